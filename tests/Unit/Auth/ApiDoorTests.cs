using System.Net;
using System.Text.Json.Nodes;
using Taskdeck.Core.Access;

namespace Taskdeck.Unit.Auth;

/// <summary>Every API door refuses a caller without credentials with a 401 ProblemDetails; health stays open.</summary>
[Collection(AuthCollection.Name)]
public sealed class ApiDoorTests(AuthHost host)
{
    public static TheoryData<string, string> ApiDoors => new()
    {
        { "GET", "/api/executions" },
        { "GET", "/api/executions/stats" },
        { "GET", "/api/executions/1" },
        { "POST", "/api/executions/1/cancel" },
        { "POST", "/api/executions/1/retry" },
        { "POST", "/api/executions/reset" },
        { "POST", "/api/executions/bulk" },
        { "GET", "/api/executions/bulk/1" },
        { "DELETE", "/api/executions/1" },
        { "GET", "/api/executions/1/attempts/1/logs/stdout" },
        { "POST", "/api/tasks" },
        { "GET", "/api/tasks/abc" },
        { "GET", "/v1/dagruns" },
        { "POST", "/v1/dagrun" },
        { "POST", "/v1/dagrun/validate" },
        { "GET", "/v1/dagrun/1" },
        { "DELETE", "/v1/dagrun/1" },
        { "PATCH", "/v1/dagrun/1/state/QUEUED" },
        { "GET", "/api/schedules" },
        { "POST", "/api/schedules" },
        { "POST", "/api/schedules/nightly/trigger" },
        { "GET", "/api/audit" },
        { "GET", "/api/worktasks" },
        { "POST", "/api/worktasks" },
        { "GET", "/api/worktasks/1" },
        { "POST", "/api/worktasks/1" },
        { "GET", "/ws/tasks" },
        { "GET", "/api/openapi.json" },
    };

    [Theory]
    [MemberData(nameof(ApiDoors))]
    public async Task NoCredentials_Is401ProblemDetails(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PATCH") request.Content = AuthHost.Json(new JsonObject { ["task"] = "demo.noop" });
        var response = await host.Anonymous().SendAsync(request);

        var problem = await AuthHost.ProblemAsync(response, HttpStatusCode.Unauthorized, $"{method} {path}");
        Assert.Equal("Authorization", (string?)problem["field"]);
        Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task AWrongBearerToken_Is401_SayingWhy()
    {
        var response = await host.Bearer("tdk_not-a-real-token").GetAsync("/api/executions");

        var problem = await AuthHost.ProblemAsync(response, HttpStatusCode.Unauthorized, "unknown token");
        Assert.Contains("unknown, revoked or expired", (string?)problem["detail"]);
    }

    [Theory]
    [InlineData("/api/livez")]
    [InlineData("/api/readyz")]
    [InlineData("/api/health")]
    [InlineData("/health")]
    [InlineData("/ready")]
    [InlineData("/api/metrics")]
    public async Task HealthAndMetrics_AreOpen(string path)
    {
        var response = await host.Anonymous().GetAsync(path);

        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"{path}: {(int)response.StatusCode}");
    }

    [Fact]
    public async Task TheWorkerToken_OpensTheWorkTaskApi_AndNothingElse()
    {
        var worker = host.Bearer(AuthHost.WorkerSecret);

        Assert.Equal(HttpStatusCode.OK, (await worker.GetAsync("/api/worktasks")).StatusCode);
        await AuthHost.ProblemAsync(await worker.GetAsync("/api/executions"), HttpStatusCode.Forbidden, "worker token on /api/executions");
        await AuthHost.ProblemAsync(await host.Bearer("not-the-worker-token").GetAsync("/api/worktasks"), HttpStatusCode.Unauthorized, "wrong worker token");
    }

    [Fact]
    public async Task AnApiToken_WithRead_AlsoReadsTheWorkTaskApi()
    {
        var reader = host.Bearer(await host.TokenAsync(AccessScopes.Read));

        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/api/worktasks")).StatusCode);
        await AuthHost.ProblemAsync(await reader.PostAsync("/api/worktasks/1", AuthHost.Json(new JsonObject { ["status"] = "completed" })),
            HttpStatusCode.Forbidden, "read token reporting a status");
    }
}
