using Taskdeck.Core.Audit;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Dags;

[Collection(EngineCollection.Name)]
public sealed class DagRecoveryTests(EngineHost host)
{
    private readonly HttpClient _http = host.CreateClient();

    [Fact]
    public async Task Reconciler_ReleasesAChildWhoseParentSucceeded_WhenItsReleaseWasLost()
    {
        var runId = await SubmitAsync("""{"tag":"lost-release","tasks":{"parent":{"job":{"task":"demo.noop"}}}}""");
        await WaitForAsync(async () => (await host.Get<IDagStore>().FindRunAsync(runId))!.State == DagRunState.Completed);
        var store = host.Get<IDagStore>();
        var parent = (await store.FindTaskAsync(runId, "parent"))!;

        // As if the node died between the parent's success and the child's release: the child is stored Pending and
        // the run is still RUNNING, with nobody left to observe the parent's transition.
        var child = await host.Executions.SubmitAsync(new NewExecution
        {
            Kind = ExecutorKind.Handler, Name = "demo.noop", DagRunId = runId, DagTaskName = "child", WaitForParents = true,
        });
        await store.AddEdgesAsync(runId, [(parent.ExecutionId, child.Id)]);
        Assert.True(await store.SetStateAsync(runId, [DagRunState.Completed], DagRunState.Running, DateTimeOffset.UtcNow));

        Assert.Equal(ExecutionState.Pending, (await store.FindTaskAsync(runId, "child"))!.State);
        await host.Get<DagReconciler>().ReconcileAsync(CancellationToken.None);

        await host.WaitForStateAsync(child.Id, ExecutionState.Succeeded);
        await WaitForAsync(async () => (await store.FindRunAsync(runId))!.State == DagRunState.Completed);
        Assert.Equal(0, await host.Get<DagReconciler>().ReconcileAsync(CancellationToken.None));
    }

    [Fact]
    public async Task TwoGeneratorsEmittingTheSameTaskName_OnlyOneAddsIt_TheOtherFailsNamingIt()
    {
        // One template over two values: gen_0 and gen_1 both emit a task named "same".
        var runId = await SubmitAsync("""
            {"parameters":{"N":["1","2"]},"tasks":{"gen":{"job":{"command":["/bin/echo","{\"same\":{\"job\":{\"command\":[\"/bin/echo\",\"{{N}}\"]}}}"]},"isGenerator":true}}}
            """);
        await WaitForAsync(async () => (await host.Get<IDagStore>().FindRunAsync(runId))!.State == DagRunState.Errored);

        var tasks = await host.Get<IDagStore>().TasksAsync(runId);
        Assert.Single(tasks, t => t.Name == "same");
        var generators = tasks.Where(t => t.Name.StartsWith("gen_", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, generators.Count);
        var failed = Assert.Single(generators, g => g.State == ExecutionState.Failed);
        Assert.Single(generators, g => g.State == ExecutionState.Succeeded);
        var run = await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}");
        // The reason is in the attempt that failed, the last: on a loaded machine an earlier one may have been cut short (a
        // lease lost under load ends an attempt as Lost and the generator runs again), and its log says only that it started.
        var attempts = run.GetProperty("taskAttempts").GetProperty(failed.Name);
        var log = attempts[attempts.GetArrayLength() - 1].GetProperty("executorLog").GetString();
        Assert.Contains("task name 'same' is used twice", log);
    }

    [Fact]
    public async Task AGeneratorWhoseSuccessLostTheRaceToAKill_GeneratesAgainAfterTheRestart_AndItsTasksRunOnce()
    {
        var flag = Path.Combine(host.Folder, "generator-" + Guid.NewGuid().ToString("N")[..8]);
        var output = JsonSerializer.Serialize(new { x = new { job = new { task = "demo.noop" } }, y = new { job = new { task = "demo.noop" } } });
        // Prints its tasks at once; the first attempt then runs until killed, the second (flag present) ends at once.
        var spec = JsonSerializer.Serialize(new
        {
            tag = "generator-race",
            tasks = new Dictionary<string, object>
            {
                ["gen"] = new { job = new { command = new[] { "/bin/sh", "-c", $"echo '{output}'; [ -f {flag} ] || sleep 60" } }, isGenerator = true, children = new[] { "join" } },
                ["join"] = new { job = new { task = "demo.noop" } },
            },
        });
        var runId = await SubmitAsync(spec);
        var store = host.Get<IDagStore>();
        var generator = (await store.FindTaskAsync(runId, "gen"))!;
        await host.WaitForAsync(generator.ExecutionId, _ => true, what: "the generator to exist");
        await WaitForAsync(async () => (await host.Queries.LogsAsync(generator.ExecutionId, 1)).Any(l => l.Stream == LogStream.Output && l.Text.Contains("demo.noop")));

        // The generator's output is accepted (its tasks stored) and then, before its success is recorded, the run is killed.
        var execution = (await host.Get<IExecutionReader>().FindAsync(generator.ExecutionId))!;
        Assert.Null(await host.Get<DagGenerators>().ValidateAsync(execution, 1, CancellationToken.None));
        Assert.True((await host.Get<DagService>().KillAsync(runId, Actor.System)).Done);
        await host.WaitForStateAsync(generator.ExecutionId, ExecutionState.Cancelled);
        File.WriteAllText(flag, "");

        await WaitForAsync(async () => (await host.Get<DagService>().RestartAsync(runId, Actor.System)).Done);
        await WaitForAsync(async () => (await store.FindRunAsync(runId))!.State is DagRunState.Completed or DagRunState.Errored);

        Assert.Equal(DagRunState.Completed, (await store.FindRunAsync(runId))!.State);
        var tasks = await store.TasksAsync(runId);
        Assert.Equal(["gen", "join", "x", "y"], tasks.Select(t => t.Name).Order());
        Assert.All(tasks, t => Assert.Equal(ExecutionState.Succeeded, t.State));
        Assert.Equal(2, tasks.Single(t => t.Name == "gen").AttemptCount);
        Assert.All(tasks.Where(t => t.Name != "gen"), t => Assert.Equal(1, t.AttemptCount));
    }

    // Another node restarting a run cannot tell this node to forget that it saw the run RUNNING: this node's next claim
    // in the run, once that knowledge has aged, reads the run again and moves it from QUEUED to RUNNING.
    [Fact]
    public async Task ARunQueuedAgainBehindThisNodesBack_ReadsRunningOnceItsNextTaskIsClaimed()
    {
        var runId = await SubmitAsync("""
            {"tag":"requeued-elsewhere","tasks":{
              "first":{"job":{"task":"demo.sleep","args":{"seconds":2}},"children":["second"]},
              "second":{"job":{"task":"demo.sleep","args":{"seconds":60}}}}}
            """);
        var store = host.Get<IDagStore>();
        await WaitForAsync(async () => (await store.FindRunAsync(runId))!.State == DagRunState.Running);
        // As another node's restart leaves it: QUEUED in the database.
        Assert.True(await store.SetStateAsync(runId, [DagRunState.Running], DagRunState.Queued, DateTimeOffset.UtcNow));

        var second = (await store.FindTaskAsync(runId, "second"))!;
        await host.WaitForStateAsync(second.ExecutionId, ExecutionState.Running);
        // The claim's own observer moves it, in the same flow as the claim: well before the reconciler's 15 s safety net
        // would have (which is all that used to fix it).
        await WaitForAsync(async () => (await store.FindRunAsync(runId))!.State == DagRunState.Running, TimeSpan.FromSeconds(8));
        Assert.Equal(ExecutionState.Running, (await store.FindTaskAsync(runId, "second"))!.State);

        Assert.True((await host.Get<DagService>().KillAsync(runId, Actor.System)).Done);
    }

    // Whoever reacts to a task's last change reads what it led to: the event goes out after the run's state was
    // recomputed (a page reloading on it used to show the run RUNNING for good).
    [Fact]
    public async Task TheLastTasksEnd_IsPublished_OnlyOnceTheRunsOwnStateFollowed()
    {
        long watched = 0;
        var seen = new System.Collections.Concurrent.ConcurrentQueue<DagRunState?>();
        var store = host.Get<IDagStore>();
        using var _ = host.Get<Taskdeck.Core.Events.ExecutionEvents>().Subscribe(e =>
        {
            if (e is Taskdeck.Core.Events.StateChanged { To: ExecutionState.Failed } s && s.DagRunId == Volatile.Read(ref watched))
                seen.Enqueue(store.FindRunAsync(s.DagRunId!.Value).GetAwaiter().GetResult()?.State);
        });

        var runId = await SubmitAsync("""
            {"tag":"published-after-the-run","tasks":{
              "only":{"job":{"task":"demo.sleep","args":{"seconds":1}},"children":["fails"]},
              "fails":{"job":{"task":"demo.fail"},"maxRetries":0}}}
            """);
        Volatile.Write(ref watched, runId);

        await WaitForAsync(() => Task.FromResult(!seen.IsEmpty));
        Assert.Equal(DagRunState.Errored, Assert.Single(seen));
    }

    private async Task<long> SubmitAsync(string spec)
    {
        var response = await _http.PostAsync("/v1/dagrun", new StringContent(spec, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("runID").GetInt64();
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan? deadline = null)
    {
        var until = DateTime.UtcNow + (deadline ?? TimeSpan.FromSeconds(45));
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return;
            await Task.Delay(25);
        }
        throw new Xunit.Sdk.XunitException("The condition was not reached in time.");
    }
}
