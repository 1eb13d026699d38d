using Taskdeck.Console.Components.Dags;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;

namespace Taskdeck.Unit.Console;

public sealed class RunStateSettlingTests
{
    [Theory]
    [InlineData(DagRunState.Running, new[] { ExecutionState.Succeeded, ExecutionState.Failed, ExecutionState.Pending }, true)]
    [InlineData(DagRunState.Queued, new[] { ExecutionState.Succeeded }, true)]
    [InlineData(DagRunState.Running, new[] { ExecutionState.Succeeded, ExecutionState.Running }, false)]
    [InlineData(DagRunState.Running, new[] { ExecutionState.Queued, ExecutionState.Pending }, false)]
    [InlineData(DagRunState.Running, new[] { ExecutionState.Cancelling }, false)]
    [InlineData(DagRunState.Errored, new[] { ExecutionState.Failed, ExecutionState.Pending }, false)]
    [InlineData(DagRunState.Completed, new[] { ExecutionState.Succeeded }, false)]
    public void ARun_IsUnsettled_WhenItReadsActive_WhileNoneOfItsTasksWaitsInAQueueOrRuns(DagRunState run, ExecutionState[] tasks, bool unsettled) =>
        Assert.Equal(unsettled, RunStateSettling.IsUnsettled(run, tasks));

    // The page read the run one step behind (RUNNING with nothing left to run) and no event will come: it rereads
    // until the run's state has caught up, then stops.
    [Fact]
    public async Task AnUnsettledRun_IsReread_UntilItsStateCatchesUp_ThenNoMore()
    {
        var stored = DagRunState.Running;
        var tasks = new[] { ExecutionState.Succeeded, ExecutionState.Failed, ExecutionState.Pending };
        var reads = 0;
        var caughtUp = new TaskCompletionSource();
        RunStateSettling? settling = null;
        settling = new RunStateSettling(() =>
        {
            reads++;
            if (stored == DagRunState.Errored) caughtUp.TrySetResult();
            settling!.Watch(RunStateSettling.IsUnsettled(stored, tasks));
            return Task.CompletedTask;
        });
        using var _ = settling;

        settling.Watch(RunStateSettling.IsUnsettled(stored, tasks));
        await WaitUntil(() => Volatile.Read(ref reads) >= 2, TimeSpan.FromSeconds(30));
        stored = DagRunState.Errored;
        await caughtUp.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var readsWhenSettled = Volatile.Read(ref reads);
        // Settled: nothing re-arms the reread. Three pauses' worth of waiting sees no further read.
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        Assert.Equal(readsWhenSettled, Volatile.Read(ref reads));
    }

    [Fact]
    public async Task ASettledRun_IsNeverReread()
    {
        var reads = 0;
        using var settling = new RunStateSettling(() => { reads++; return Task.CompletedTask; });

        settling.Watch(RunStateSettling.IsUnsettled(DagRunState.Running, [ExecutionState.Running]));
        await Task.Delay(TimeSpan.FromSeconds(2.5));

        Assert.Equal(0, reads);
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("condition not met");
            await Task.Delay(50);
        }
    }
}
