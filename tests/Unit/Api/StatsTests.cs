using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Unit.Health;

namespace Taskdeck.Unit.Api;

/// <summary>
/// Stats against numbers known in advance, on an app of its own (a shared one holds other tests' executions). The old
/// test recomputed the expected numbers with the very query the endpoint uses, so it could not fail.
/// </summary>
[Collection(OwnHostCollection.Name)]
public sealed class StatsTests
{
    // django-ray's test_get_stats: one QUEUED, one SUCCEEDED, one FAILED → total 3 and each count 1; here with every state
    // django-ray's stats name, each count different so that a count read from the wrong state shows.
    [Fact]
    public async Task Stats_CountEachStateInDjangoRaysNames_ExactlyAsCreated()
    {
        await using var app = new OwnHost();
        var client = app.CreateClient();
        var executions = app.Get<ExecutionService>();
        var queries = app.Get<ExecutionQueries>();
        async Task<long> Submit(object body)
        {
            using var response = await client.PostAsJsonAsync("/api/tasks", body);
            return (long)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        }
        async Task WaitFor(IEnumerable<long> ids, ExecutionState state)
        {
            var until = DateTime.UtcNow.AddSeconds(30);
            foreach (var id in ids)
                while ((await queries.GetDetailAsync(id))!.Execution.State != state)
                {
                    Assert.True(DateTime.UtcNow < until, $"execution {id} never reached {state}");
                    await Task.Delay(25);
                }
        }
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var queued = new List<long>();
        for (var i = 0; i < 4; i++) queued.Add(await Submit(new { task = "demo.noop", runAt = later }));
        var succeeded = new List<long>();
        for (var i = 0; i < 3; i++) succeeded.Add(await Submit(new { task = "demo.noop" }));
        var failed = new List<long>();
        for (var i = 0; i < 2; i++) failed.Add(await Submit(new { task = "demo.fail" }));
        var cancelled = await Submit(new { task = "demo.noop", runAt = later });
        Assert.True((await executions.CancelAsync(cancelled, Actor.System)).Done);
        var running = await Submit(new { task = "demo.sleep", args = new { seconds = 60 } });
        await WaitFor(succeeded, ExecutionState.Succeeded);
        await WaitFor(failed, ExecutionState.Failed);
        await WaitFor([running], ExecutionState.Running);

        var stats = (await client.GetFromJsonAsync<JsonObject>("/api/executions/stats"))!;
        Assert.Equal(11, (int)stats["total"]!);
        Assert.Equal(4, (int)stats["queued"]!);
        Assert.Equal(1, (int)stats["running"]!);
        Assert.Equal(3, (int)stats["succeeded"]!);
        Assert.Equal(2, (int)stats["failed"]!);
        Assert.Equal(1, (int)stats["cancelled"]!);
        Assert.Equal(0, (int)stats["lost"]!);
        Assert.Equal(0, (int)stats["expired"]!);
        Assert.Equal(0, (int)stats["cancelling"]!);
        await executions.CancelAsync(running, Actor.System);
    }
}
