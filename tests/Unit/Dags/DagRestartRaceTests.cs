using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Bulk;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Bulk;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Dags;

/// <summary>
/// A restart that lands while the kill's last task-cancel is still being observed: the observer's recompute of the run
/// reads it QUEUED (the restart's) while its tasks still read as ended (the restart's act has not queued them yet). The
/// race is driven through seams (<see cref="DagSeams"/>), not timing: the cancel's observers are held, the restart is made
/// and its act held after its first batch, then the observers go on, then the act.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class DagRestartRaceTests(EngineHost host)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(1);
    private readonly HttpClient _http = host.CreateClient();

    [Fact]
    public async Task Restart_WhileTheKillsLastCancelIsRecomputingTheRun_NeverSettlesAPassingErrored()
    {
        var submitted = await _http.PostAsync("/v1/dagrun", new StringContent("""
            { "tag": "restart-race", "tasks": {
                "gate": { "job": { "task": "test.gate" }, "children": ["after"] },
                "after": { "job": { "task": "test.count" } } } }
            """, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, submitted.StatusCode);
        var runId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runID").GetInt64();
        var dags = host.Get<IDagStore>();
        var gate = await PollAsync(async () => await dags.FindTaskAsync(runId, "gate") is { State: ExecutionState.Running } t ? t : null, "the gate task to run");

        using var hold = host.DagSeams.Hold(runId, gate.ExecutionId);
        var published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = host.Get<ExecutionEvents>().Subscribe(e =>
        {
            if (e is StateChanged { To: ExecutionState.Cancelled } c && c.ExecutionId == gate.ExecutionId) published.TrySetResult();
        });

        Assert.Equal(HttpStatusCode.OK, (await _http.DeleteAsync($"/v1/dagrun/{runId}")).StatusCode);
        // The gate task's cancel is committed; its observers (the run's recompute) wait at the seam.
        await hold.EndObserved.Task.WaitAsync(Deadline);
        await PollAsync(async () => await host.Get<BulkActions>().UnfinishedForRunAsync(runId) is null ? "" : null, "the kill's bulk act to finish");

        var restart = _http.PatchAsync($"/v1/dagrun/{runId}/state/QUEUED", null);
        // The run is QUEUED again and the restart's act has done its first batch: the gate task still reads Cancelled.
        await hold.RestartActAdvancing.Task.WaitAsync(Deadline);
        Assert.Equal(DagRunState.Queued, (await dags.FindRunAsync(runId))!.State);
        Assert.Equal(ExecutionState.Cancelled, (await dags.FindTaskAsync(runId, "gate"))!.State);

        hold.LetObserversGo.TrySetResult();
        await published.Task.WaitAsync(Deadline);
        Assert.Equal(DagRunState.Queued, (await dags.FindRunAsync(runId))!.State);

        hold.LetRestartActGo.TrySetResult();
        Assert.Equal(HttpStatusCode.OK, (await restart.WaitAsync(Deadline)).StatusCode);
        await PollAsync(async () => await dags.FindTaskAsync(runId, "gate") is { State: ExecutionState.Running } t ? t : null, "the gate task to run again");
        host.Gates[gate.ExecutionId].TrySetResult();
        await PollAsync(async () => await dags.FindRunAsync(runId) is { State: DagRunState.Completed } r ? r : null, "the run to complete");

        var run = await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}");
        Assert.Equal(["QUEUED", "RUNNING", "KILLED", "QUEUED", "RUNNING", "COMPLETED"],
            run.GetProperty("dagStateChanges").EnumerateArray().Select(c => c.GetProperty("state").GetString()));
    }

    private static async Task<T> PollAsync<T>(Func<Task<T?>> read, string what) where T : class
    {
        var until = DateTime.UtcNow + Deadline;
        while (DateTime.UtcNow < until)
        {
            if (await read() is { } found) return found;
            await Task.Delay(25);
        }
        throw new Xunit.Sdk.XunitException($"Timed out waiting for {what}.");
    }
}

/// <summary>
/// Seams in the engine host that hold a DAG run's bookkeeping at chosen points (inert unless a test holds a run): the
/// observers of one execution's end (registered first, so the DAG scheduler's recompute waits behind it), and a restart
/// act of the run before it stores its first cursor.
/// </summary>
public sealed class DagSeams
{
    private volatile Holding? _holding;

    public Holding Hold(long runId, long executionId) => _holding = new Holding(this, runId, executionId);

    public void Register(IServiceCollection services)
    {
        services.Insert(0, ServiceDescriptor.Singleton<IExecutionObserver>(new EndObserver(this)));
        services.AddSingleton<BulkActionStore>();
        services.AddSingleton<IBulkActionStore>(sp => new HoldingBulkActionStore(sp.GetRequiredService<BulkActionStore>(), this));
    }

    public sealed class Holding(DagSeams seams, long runId, long executionId) : IDisposable
    {
        public long RunId { get; } = runId;
        public long ExecutionId { get; } = executionId;
        public long? RestartActId { get; set; }
        public TaskCompletionSource EndObserved { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource LetObserversGo { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource RestartActAdvancing { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource LetRestartActGo { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Dispose()
        {
            LetObserversGo.TrySetResult();
            LetRestartActGo.TrySetResult();
            seams._holding = null;
        }
    }

    private static readonly TimeSpan MaxHold = TimeSpan.FromMinutes(2);

    private sealed class EndObserver(DagSeams seams) : IExecutionObserver
    {
        public async Task OnTransitionedAsync(TransitionResult result, CancellationToken ct)
        {
            if (seams._holding is not { } h || result.ExecutionId != h.ExecutionId || result.NewState is not { } s || !s.IsTerminal()) return;
            if (!h.EndObserved.TrySetResult()) return;
            await h.LetObserversGo.Task.WaitAsync(MaxHold, ct);
        }

        public Task OnTransitionedManyAsync(IReadOnlyList<TransitionResult> results, CancellationToken ct) => Task.CompletedTask;
    }

    private sealed class HoldingBulkActionStore(BulkActionStore inner, DagSeams seams) : IBulkActionStore
    {
        public async Task<long> CreateAsync(BulkAction action, CancellationToken ct = default)
        {
            var id = await inner.CreateAsync(action, ct);
            if (seams._holding is { } h && action.Kind == BulkActionKind.RestartDagRun && action.DagRunId == h.RunId) h.RestartActId ??= id;
            return id;
        }

        public async Task AdvanceAsync(long id, int phase, long cursor, int applied, int skipped, DateTimeOffset at, CancellationToken ct = default)
        {
            if (seams._holding is { } h && h.RestartActId == id && h.RestartActAdvancing.TrySetResult())
                await h.LetRestartActGo.Task.WaitAsync(MaxHold, ct);
            await inner.AdvanceAsync(id, phase, cursor, applied, skipped, at, ct);
        }

        public Task<BulkAction?> FindAsync(long id, CancellationToken ct = default) => inner.FindAsync(id, ct);
        public Task<IReadOnlyList<BulkAction>> ClaimableAsync(string nodeId, DateTimeOffset leaseCutoff, CancellationToken ct = default) => inner.ClaimableAsync(nodeId, leaseCutoff, ct);
        public Task<bool> ClaimAsync(long id, string nodeId, DateTimeOffset leaseCutoff, CancellationToken ct = default) => inner.ClaimAsync(id, nodeId, leaseCutoff, ct);
        public Task ReleaseAsync(long id, string nodeId, CancellationToken ct = default) => inner.ReleaseAsync(id, nodeId, ct);
        public Task FinishAsync(long id, int applied, int skipped, DateTimeOffset at, CancellationToken ct = default) => inner.FinishAsync(id, applied, skipped, at, ct);
        public Task<BulkAction?> UnfinishedForRunAsync(long dagRunId, CancellationToken ct = default) => inner.UnfinishedForRunAsync(dagRunId, ct);
    }
}
