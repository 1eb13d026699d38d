using System.Net;
using System.Text.Json.Nodes;

namespace Taskdeck.Unit.Auth;

/// <summary>People signed in with the console's cookie: Viewer reads, Operator also acts and submits handlers, Admin all.</summary>
[Collection(AuthCollection.Name)]
public sealed class RoleTests(AuthHost host)
{
    private static StringContent Command() => AuthHost.Json(new JsonObject { ["command"] = new JsonArray("/bin/true") });

    [Fact]
    public async Task AViewer_Reads_ButCannotCancel()
    {
        var id = await host.SubmitWaitingAsync();
        var (viewer, _) = await host.SignedInAsync("Viewer");

        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync($"/api/executions/{id}")).StatusCode);
        await AuthHost.ProblemAsync(await viewer.PostAsync($"/api/executions/{id}/cancel", null), HttpStatusCode.Forbidden, "viewer cancel");
        await AuthHost.ProblemAsync(await viewer.PostAsync("/api/tasks", AuthHost.Json(new JsonObject { ["task"] = "demo.noop" })), HttpStatusCode.Forbidden, "viewer submit");
    }

    [Fact]
    public async Task AnOperator_Cancels_AndSubmitsHandlers_ButCannotRunACommand_NorReadTheAuditTrail()
    {
        var id = await host.SubmitWaitingAsync();
        var (op, _) = await host.SignedInAsync("Operator");

        Assert.Equal(HttpStatusCode.OK, (await op.PostAsync($"/api/executions/{id}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await op.PostAsync("/api/tasks", AuthHost.Json(new JsonObject { ["task"] = "demo.noop" }))).StatusCode);

        var refused = await AuthHost.ProblemAsync(await op.PostAsync("/api/tasks", Command()), HttpStatusCode.Forbidden, "operator command");
        Assert.Equal("command", (string?)refused["field"]);
        var dag = new JsonObject { ["tag"] = "t", ["tasks"] = new JsonObject { ["a"] = new JsonObject { ["job"] = new JsonObject { ["command"] = new JsonArray("/bin/true") } } } };
        Assert.Equal(HttpStatusCode.Forbidden, (await op.PostAsync("/v1/dagrun", AuthHost.Json(dag))).StatusCode);
        await AuthHost.ProblemAsync(await op.GetAsync("/api/audit"), HttpStatusCode.Forbidden, "operator audit");
    }

    [Fact]
    public async Task AnAdmin_RunsCommands_AndReadsTheAuditTrail()
    {
        var (admin, _) = await host.SignedInAsync("Admin");

        Assert.Equal(HttpStatusCode.Accepted, (await admin.PostAsync("/api/tasks", Command())).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/audit")).StatusCode);
    }

    [Fact]
    public async Task SignOut_EndsTheSession_AndIsAudited()
    {
        var (client, name) = await host.SignedInAsync("Viewer");
        var form = await AuthHost.FormTokenAsync(client, "/");

        var response = await client.PostAsync("/logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = form }));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/executions")).StatusCode);
        var (admin, _) = await host.SignedInAsync("Admin");
        var trail = JsonNode.Parse(await admin.GetStringAsync($"/api/audit?actor={name}&action=auth.sign-out"))!["items"]!.AsArray();
        Assert.Single(trail);
    }
}
