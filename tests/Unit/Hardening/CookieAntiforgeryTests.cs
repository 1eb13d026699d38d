using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Taskdeck.Console.CrossSite;
using Taskdeck.Core.Access;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Unit.Auth;

namespace Taskdeck.Unit.Hardening;

/// <summary>
/// With a real signed-in session: a cookie-authenticated cancel needs the antiforgery token issued to that person, and
/// without it changes nothing; the same person's bearer token needs none.
/// </summary>
[Collection(AuthCollection.Name)]
public sealed class CookieAntiforgeryTests(AuthHost host)
{
    private async Task<ExecutionState> StateAsync(long id) =>
        (await ((ExecutionQueries)host.Services.GetService(typeof(ExecutionQueries))!).GetDetailAsync(id))!.Execution.State;

    [Fact]
    public async Task OperatorCookie_Cancel_WithoutToken_Is400_AndChangesNothing_WithToken_Cancels()
    {
        var (operatorClient, _) = await host.SignedInAsync(AccessRoles.Operator);
        // SignedInAsync gives the client the token, as the console's scripts would hold it: take it away first.
        operatorClient.DefaultRequestHeaders.Remove(CrossSiteGuard.AntiforgeryHeader);
        var id = await host.SubmitWaitingAsync();

        var refused = await AuthHost.ProblemAsync(await operatorClient.PostAsync($"/api/executions/{id}/cancel", null), HttpStatusCode.BadRequest, "cookie cancel without token");
        Assert.Equal(CrossSiteGuard.AntiforgeryHeader, (string?)refused["field"]);
        var form = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{id}/cancel") { Content = new FormUrlEncodedContent([new("x", "1")]) };
        await AuthHost.ProblemAsync(await operatorClient.SendAsync(form), HttpStatusCode.UnsupportedMediaType, "cookie form post");
        var foreign = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{id}/cancel");
        foreign.Headers.Add("Origin", "http://evil.example");
        await AuthHost.ProblemAsync(await operatorClient.SendAsync(foreign), HttpStatusCode.Forbidden, "cookie call from a foreign page");
        Assert.NotEqual(ExecutionState.Cancelled, await StateAsync(id));

        var token = (string)(await operatorClient.GetFromJsonAsync<JsonObject>(AntiforgeryApi.Route))!["requestToken"]!;
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{id}/cancel");
        request.Headers.Add(CrossSiteGuard.AntiforgeryHeader, token);
        var response = await operatorClient.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(ExecutionState.Cancelled, await StateAsync(id));
    }

    [Fact]
    public async Task BearerTokenCalls_NeedNoAntiforgeryToken()
    {
        var id = await host.SubmitWaitingAsync();
        var automation = host.Bearer(await host.TokenAsync(AccessScopes.Read, AccessScopes.Operate));
        Assert.Equal(HttpStatusCode.OK, (await automation.PostAsync($"/api/executions/{id}/cancel", null)).StatusCode);
        Assert.Equal(ExecutionState.Cancelled, await StateAsync(id));
    }
}
