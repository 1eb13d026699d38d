using Taskdeck.Core.Audit;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Executions;
using static Taskdeck.Core.Executions.ExecutionState;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// The compare-and-set under contention. Records are stored Queued without a Hangfire job,
/// so the only runners are the ones each round starts.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class RaceTests(EngineHost host)
{
    private const int Rounds = 100;

    [Fact]
    public async Task TwoWorkersClaimingOneRecord_ExactlyOneRunsIt()
    {
        var runner = host.Get<ExecutionRunner>();
        for (var round = 0; round < Rounds; round++)
        {
            var id = await host.QueuedWithoutJobAsync("test.count");
            using var start = new ManualResetEventSlim();
            var workers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () => { start.Wait(); await runner.RunAsync(id, CancellationToken.None); })).ToArray();
            start.Set();
            await Task.WhenAll(workers);

            var detail = await host.Queries.GetDetailAsync(id);
            Assert.Equal(Succeeded, detail!.Execution.State);
            Assert.Equal(1, host.Runs.GetValueOrDefault(id));
            var attempt = Assert.Single(detail.Attempts);
            Assert.Equal(Succeeded, attempt.Outcome);
            Assert.Single(detail.History, h => h.Transition == nameof(Transition.Claim));
        }
    }

    /// <summary>
    /// A batch job reads its records together and hands each copy to the runner; by its turn the record may have run and
    /// gone back to wait for a retry's back-off. The copy still says Queued, but the claim expects the copy's attempt, so
    /// nothing is claimed on its word: the record is read again and left to its back-off.
    /// </summary>
    [Fact]
    public async Task AStaleCopyFromABatchRead_DoesNotClaimARecordThatRanSince()
    {
        var runner = host.Get<ExecutionRunner>();
        var transitions = host.Get<ExecutionTransitions>();
        var store = host.Get<ExecutionStore>();
        var id = await host.QueuedWithoutJobAsync("test.count");
        var copy = Assert.Single(await store.FindManyAsync([id, -1]));
        Assert.Equal((Queued, 0), (copy.State, copy.AttemptCount));

        // Meanwhile another worker ran attempt 1, which failed and waits an hour for its retry.
        Assert.True((await transitions.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "elsewhere" }, CancellationToken.None)).Applied);
        Assert.True((await transitions.ApplyAsync(new TransitionCommand(id, Transition.RetryLater)
            { RunAfter = TimeSpan.FromHours(1), ErrorMessage = "failed", ExpectedAttempt = 1 }, CancellationToken.None)).Applied);

        await runner.RunAsync(id, CancellationToken.None, copy);

        var record = await store.FindAsync(id);
        Assert.Equal((Scheduled, 1), (record!.State, record.AttemptCount));
        Assert.Equal(0, host.Runs.GetValueOrDefault(id));

        // A copy that is still true saves the read and runs the record once.
        var fresh = await host.QueuedWithoutJobAsync("test.count");
        await runner.RunAsync(fresh, CancellationToken.None, Assert.Single(await store.FindManyAsync([fresh])));
        Assert.Equal((Succeeded, 1), ((await store.FindAsync(fresh))!.State, host.Runs.GetValueOrDefault(fresh)));
    }

    [Fact]
    public async Task CancelRacingCompletion_EndsInOneConsistentTerminalState()
    {
        var runner = host.Get<ExecutionRunner>();
        var running = host.Get<RunningWork>();
        for (var round = 0; round < Rounds; round++)
        {
            var id = await host.QueuedWithoutJobAsync("test.gate");
            var gate = host.Gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            var run = Task.Run(() => runner.RunAsync(id, CancellationToken.None));
            await WaitUntilAsync(() => running.IsRunningHere(id), $"execution {id} running");

            using var start = new ManualResetEventSlim();
            var complete = Task.Run(() => { start.Wait(); gate.TrySetResult(); });
            var cancel = Task.Run(async () => { start.Wait(); return await host.Executions.CancelAsync(id, Actor.System, "race"); });
            start.Set();
            await Task.WhenAll(complete, cancel, run);

            var detail = await host.WaitForAsync(id, d => d.Execution.State.IsTerminal(), TimeSpan.FromSeconds(10), "a terminal state");
            var state = detail.Execution.State;
            Assert.True(state is Succeeded or Cancelled, $"round {round}: ended {state}");

            var attempt = Assert.Single(detail.Attempts);
            Assert.Equal(state, attempt.Outcome);
            Assert.NotNull(attempt.FinishedAt);
            Assert.Equal(1, detail.Execution.AttemptCount);
            Assert.Equal(state, detail.History[^1].To);
            Assert.Single(detail.History, h => h.To.IsTerminal());
            // Each step of the history starts where the previous one ended.
            for (var i = 1; i < detail.History.Count; i++) Assert.Equal(detail.History[i - 1].To, detail.History[i].From);
            if (state == Succeeded) Assert.Equal("\"released\"", detail.Execution.ResultJson);
            else Assert.Null(detail.Execution.ResultJson);
            // The cancel's answer and the record agree: a cancel reported done went through Cancelling (and ended Cancelled,
            // or Succeeded when the work finished before it saw the cancel); a refused one saw the record already Succeeded.
            var outcome = await cancel;
            if (outcome.Done)
            {
                Assert.Equal(Cancelling, outcome.State);
                Assert.Contains(detail.History, h => h.To == Cancelling);
            }
            else
            {
                Assert.Equal(ActionStatus.Conflict, outcome.Status);
                Assert.Equal(Succeeded, outcome.State);
                Assert.Equal(Succeeded, state);
                Assert.DoesNotContain(detail.History, h => h.To == Cancelling);
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"{what}: not reached in time");
            await Task.Delay(2);
        }
    }
}
