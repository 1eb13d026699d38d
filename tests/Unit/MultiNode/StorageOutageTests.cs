using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// The PostgreSQL server goes down under a running node: its API answers 503 ProblemDetails with Retry-After (the request
/// was fine; send it again), not a 500 that reads like a bug, and the node serves again once the server is back. Its own
/// server, so stopping it disturbs no other test.
/// </summary>
public sealed class StorageOutageTests : IAsyncLifetime
{
    private readonly PostgresServer _postgres = new();

    public Task InitializeAsync() => _postgres.InitializeAsync();
    public Task DisposeAsync() => _postgres.DisposeAsync();

    [Fact]
    public async Task DatabaseDown_ApiAnswers503ProblemDetails_WithRetryAfter_ThenServesAgainOnceItIsBack()
    {
        await using var node = await ConsoleProcess.StartAsync(ClusterProbe.NodeSettings(await _postgres.CreateDatabaseAsync()));
        var id = await node.SubmitAsync(new { task = "demo.noop" });

        await _postgres.StopAsync();

        // A write waits out a short outage (WriteQueue's reconnect patience, 30 s) before it gives up: a longer timeout here.
        using var patient = new HttpClient { BaseAddress = node.Http.BaseAddress, Timeout = TimeSpan.FromMinutes(3) };
        foreach (var request in new Func<Task<HttpResponseMessage>>[]
                 {
                     () => patient.GetAsync("/api/executions"),
                     () => patient.GetAsync($"/api/executions/{id}"),
                     () => patient.PostAsJsonAsync("/api/tasks", new { task = "demo.noop" }),
                 })
        {
            using var response = await request();
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri}: {(int)response.StatusCode} {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
            var problem = JsonDocument.Parse(body).RootElement;
            Assert.Equal(503, problem.GetProperty("status").GetInt32());
            Assert.Equal("Storage unavailable", problem.GetProperty("title").GetString());
            Assert.DoesNotContain("   at ", body);
        }

        await _postgres.StartAsync();
        await ClusterProbe.UntilAsync(async () => (await node.Http.GetAsync($"/api/executions/{id}")).IsSuccessStatusCode, TimeSpan.FromSeconds(60),
            "the node to serve again once PostgreSQL is back:\n" + node.Output);
        Assert.False(node.HasExited, "the node exited:\n" + node.Output);
    }
}
