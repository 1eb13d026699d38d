using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Taskdeck.Console.CrossSite;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Hardening;

/// <summary>
/// Host, form-post, origin and antiforgery doors of the real app: each refusal is a ProblemDetails naming what was wrong,
/// and a refused state change leaves the execution exactly as it was.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class CrossSiteTests(EngineHost host)
{
    private readonly HttpClient _client = host.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false });

    private static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)status, (int)problem["status"]!);
        Assert.Equal(field, (string?)problem["field"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["detail"]));
        return problem;
    }

    /// <summary>A handler execution that stays Running until the test releases it.</summary>
    private async Task<long> RunningGateAsync()
    {
        using var response = await _client.PostAsJsonAsync("/api/tasks", new { task = "test.gate", tags = new[] { "cross-site" } });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (long)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await host.WaitForStateAsync(id, ExecutionState.Running);
        return id;
    }

    private void Release(long id) => host.Gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private async Task AssertUntouchedAsync(long id)
    {
        var detail = await host.Queries.GetDetailAsync(id);
        Assert.Equal(ExecutionState.Running, detail!.Execution.State);
        Assert.Single(detail.Attempts);
        Assert.DoesNotContain(detail.History, h => h.To is ExecutionState.Cancelling or ExecutionState.Cancelled);
    }

    [Theory]
    [InlineData("http://evil.example/api/livez")]
    [InlineData("http://localhost.evil.example/")]
    [InlineData("http://10.1.2.3:5066/api/executions")]
    public async Task WrongHostHeader_Is400_NamingAllowedHosts(string url)
    {
        using var response = await _client.GetAsync(url);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "Host");
        Assert.Equal("AllowedHosts", (string?)problem["setting"]);
        Assert.Contains(new Uri(url).Host, (string?)problem["detail"]);
    }

    [Theory]
    [InlineData("http://localhost/api/livez")]
    [InlineData("http://127.0.0.1:5066/api/livez")]
    [InlineData("http://[::1]:5066/api/livez")]
    public async Task TheShippedHostNames_AreAnswered(string url)
    {
        using var response = await _client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task WrongHost_CannotCancel()
    {
        var id = await RunningGateAsync();
        try
        {
            using var response = await _client.PostAsync($"http://evil.example/api/executions/{id}/cancel", null);
            await AssertProblemAsync(response, HttpStatusCode.BadRequest, "Host");
            await AssertUntouchedAsync(id);
        }
        finally { Release(id); }
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded", "confirm=yes")]
    [InlineData("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n")]
    [InlineData("text/plain", "{\"all\": true}")]
    [InlineData("Text/Plain; charset=utf-8", "")]
    [InlineData("application/x-www-form-urlencoded", "")]
    public async Task FormPosts_To_Cancel_Are415_AndChangeNothing(string contentType, string body)
    {
        var id = await RunningGateAsync();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{id}/cancel") { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            using var response = await _client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
            await AssertUntouchedAsync(id);
        }
        finally { Release(id); }
    }

    [Fact]
    public async Task FormPosts_To_Reset_DagKill_AndDelete_Are415_AndChangeNothing()
    {
        var tag = "xs" + Guid.NewGuid().ToString("N")[..8];
        using var submit = await _client.PostAsJsonAsync("/api/tasks", new { task = "demo.fail", args = new { message = "stays failed" }, tags = new[] { tag } });
        var failed = (long)(await submit.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await host.WaitForStateAsync(failed, ExecutionState.Failed);

        foreach (var (method, path) in new[] { (HttpMethod.Post, $"/api/executions/reset?state=FAILED"), (HttpMethod.Delete, $"/api/executions/{failed}"), (HttpMethod.Post, $"/api/executions/{failed}/retry") })
        {
            using var request = new HttpRequestMessage(method, path) { Content = new StringContent("{\"all\": true, \"tag\": \"" + tag + "\"}", Encoding.UTF8, "text/plain") };
            using var response = await _client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
        }
        var after = await host.Queries.GetDetailAsync(failed);
        Assert.Equal(ExecutionState.Failed, after!.Execution.State);
        Assert.Single(after.Attempts);

        // daggy's routes: a form-encoded submit or kill never reaches the engine either.
        using var dag = new HttpRequestMessage(HttpMethod.Post, "/v1/dagrun") { Content = new FormUrlEncodedContent([new("tag", "x")]) };
        await AssertProblemAsync(await _client.SendAsync(dag), HttpStatusCode.UnsupportedMediaType, "Content-Type");
        using var kill = new HttpRequestMessage(HttpMethod.Patch, "/v1/dagrun/1/state/KILLED") { Content = new StringContent("", Encoding.UTF8, "text/plain") };
        await AssertProblemAsync(await _client.SendAsync(kill), HttpStatusCode.UnsupportedMediaType, "Content-Type");
    }

    [Fact]
    public async Task BodylessAndJsonCalls_OfTheSeedClients_StillWork()
    {
        var id = await RunningGateAsync();
        // django-ray's client: a POST with no body and no Content-Type.
        using (var cancel = await _client.PostAsync($"/api/executions/{id}/cancel", null))
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        await host.WaitForStateAsync(id, ExecutionState.Cancelled);
        // JSON with a charset parameter, as many clients send it.
        using var json = new HttpRequestMessage(HttpMethod.Post, "/api/tasks") { Content = new StringContent("{\"task\": \"demo.echo\"}", Encoding.UTF8, "application/json") };
        using (var submitted = await _client.SendAsync(json))
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        // GETs are never refused for their Content-Type or Origin.
        using var get = new HttpRequestMessage(HttpMethod.Get, $"/api/executions/{id}") { Content = new StringContent("", Encoding.UTF8, "text/plain") };
        get.Headers.Add("Origin", "http://evil.example");
        using (var read = await _client.SendAsync(get))
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData("http://localhost:3000")] // same site, another origin: another app on this machine
    [InlineData("null")] // a sandboxed frame or a file:// page
    public async Task BrowserCall_FromAForeignPage_Is403_AndChangesNothing(string origin)
    {
        var id = await RunningGateAsync();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{id}/cancel");
            request.Headers.Add("Origin", origin);
            using var response = await _client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.Forbidden, "Origin");
            await AssertUntouchedAsync(id);
        }
        finally { Release(id); }
    }

    [Theory]
    [InlineData("http://localhost")]
    [InlineData("https://platform.example.com")] // Taskdeck:Auth:AllowedOrigins in EngineHost
    public async Task BrowserCall_FromOwnOrAllowedPage_GoesThrough(string origin)
    {
        var id = await RunningGateAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{id}/cancel");
        request.Headers.Add("Origin", origin);
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await host.WaitForStateAsync(id, ExecutionState.Cancelled);
    }

    [Fact]
    public async Task CookieCall_WithoutAntiforgeryToken_Is400_AndChangesNothing()
    {
        // The guard keys on the cookie's presence: a cookie of the console's name without the header is refused before
        // any handler runs, whether or not it signs anyone in (a real session: CookieAntiforgeryTests).
        var id = await RunningGateAsync();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{id}/cancel");
            request.Headers.Add("Cookie", $"{Taskdeck.Console.Auth.AuthSchemes.CookieName}=signed-in");
            using var response = await _client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.BadRequest, CrossSiteGuard.AntiforgeryHeader);

            var (cookie, token) = await AntiforgeryAsync();
            using var forged = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{id}/cancel");
            forged.Headers.Add("Cookie", $"{Taskdeck.Console.Auth.AuthSchemes.CookieName}=signed-in; {cookie}");
            forged.Headers.Add(CrossSiteGuard.AntiforgeryHeader, token[..^4] + "AAAA");
            using var refused = await _client.SendAsync(forged);
            await AssertProblemAsync(refused, HttpStatusCode.BadRequest, CrossSiteGuard.AntiforgeryHeader);
            await AssertUntouchedAsync(id);
        }
        finally { Release(id); }
    }

    /// <summary>What a script on the console's page does: GET the token; the answer also sets the antiforgery cookie.</summary>
    private async Task<(string Cookie, string Token)> AntiforgeryAsync()
    {
        using var response = await _client.GetAsync(AntiforgeryApi.Route);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(CrossSiteGuard.AntiforgeryHeader, (string?)body["headerName"]);
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(".AspNetCore.Antiforgery.", StringComparison.Ordinal)).Split(';')[0];
        return (cookie, (string)body["requestToken"]!);
    }

    [Fact]
    public async Task HangfireDashboardActions_UseTheSameAntiforgeryHeader_AndAreRefusedWithoutIt()
    {
        // The dashboard's scripts send the header its page names (Hangfire reads it from IAntiforgery): renaming it to
        // X-XSRF-TOKEN for the API must leave the dashboard's own buttons working.
        using var page = await _client.GetAsync("/hangfire/recurring");
        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal(CrossSiteGuard.AntiforgeryHeader, Regex.Match(html, "<meta name=\"csrf-header\" content=\"([^\"]+)\"").Groups[1].Value);
        var token = Regex.Match(html, "<meta name=\"csrf-token\" content=\"([^\"]+)\"").Groups[1].Value;
        var cookie = page.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(".AspNetCore.Antiforgery.", StringComparison.Ordinal)).Split(';')[0];

        HttpRequestMessage Trigger(bool withToken)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/hangfire/recurring/trigger") { Content = new FormUrlEncodedContent([new("jobs[]", "no-such-job")]) };
            request.Headers.Add("Cookie", cookie);
            if (withToken) request.Headers.Add(CrossSiteGuard.AntiforgeryHeader, token);
            return request;
        }
        using (var refused = await _client.SendAsync(Trigger(withToken: false)))
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var accepted = await _client.SendAsync(Trigger(withToken: true));
        Assert.Equal(HttpStatusCode.NoContent, accepted.StatusCode);
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData("http://localhost:8080")]
    [InlineData("null")]
    public async Task Socket_FromAForeignOrigin_IsRefused403_BeforeTheUpgrade(string origin)
    {
        var client = host.Server.CreateWebSocketClient();
        client.ConfigureRequest = r => r.Headers["Origin"] = origin;
        var error = await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(new Uri("ws://localhost/ws/tasks"), CancellationToken.None));
        Assert.Contains("403", error.Message);
    }

    [Theory]
    [InlineData(null)] // a worker or a script: no browser, no Origin
    [InlineData("http://localhost")]
    [InlineData("https://platform.example.com")]
    public async Task Socket_WithoutOrigin_OrFromAnAllowedOne_Connects(string? origin)
    {
        var client = host.Server.CreateWebSocketClient();
        if (origin is not null) client.ConfigureRequest = r => r.Headers["Origin"] = origin;
        using var socket = await client.ConnectAsync(new Uri("ws://localhost/ws/tasks"), CancellationToken.None);
        Assert.Equal(WebSocketState.Open, socket.State);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task Pages_CarryTheSecurityHeaders_WithAFreshNonceOnTheImportMap()
    {
        var nonces = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var response = await _client.GetAsync("/executions");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var csp = string.Join(" ", response.Headers.GetValues("Content-Security-Policy"));
            foreach (var directive in new[] { "default-src 'self'", "style-src 'self' 'unsafe-inline'", "frame-ancestors 'none'", "object-src 'none'", "connect-src 'self'" })
                Assert.Contains(directive, csp);
            Assert.DoesNotContain("unsafe-eval", csp);
            var nonce = Regex.Match(csp, "script-src 'self' 'nonce-([^']+)'").Groups[1].Value;
            Assert.NotEmpty(nonce);
            var html = await response.Content.ReadAsStringAsync();
            Assert.Contains($"<script type=\"importmap\" nonce=\"{nonce}\">", html);
            // No other inline script: everything else is a file from this node.
            Assert.Single(Regex.Matches(html, "<script(?![^>]*\\ssrc=)[^>]*>"));
            AssertCommonHeaders(response);
            nonces.Add(nonce);
        }
        Assert.NotEqual(nonces[0], nonces[1]);
    }

    [Theory]
    [InlineData("/api/livez", HttpStatusCode.OK)]
    [InlineData("/api/executions/999999999", HttpStatusCode.NotFound)]
    [InlineData("/no-such-page", HttpStatusCode.NotFound)]
    [InlineData("/hangfire", HttpStatusCode.OK)]
    [InlineData("/api/docs/index.html", HttpStatusCode.OK)]
    public async Task EveryResponse_CarriesTheSecurityHeaders(string path, HttpStatusCode status)
    {
        using var response = await _client.GetAsync(path);
        Assert.Equal(status, response.StatusCode);
        AssertCommonHeaders(response);
        var csp = string.Join(" ", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("frame-ancestors 'none'", csp);
        if (response.Content.Headers.ContentType?.MediaType == "text/html") Assert.Contains("script-src 'self' 'nonce-", csp);
        else Assert.StartsWith("default-src 'none'", csp);
    }

    private static void AssertCommonHeaders(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
    }
}
