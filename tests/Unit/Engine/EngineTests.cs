using Taskdeck.Core.Audit;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using static Taskdeck.Core.Executions.ExecutionState;

namespace Taskdeck.Unit.Engine;

/// <summary>The engine end to end: a real SQLite file, real Hangfire workers, the real runner.</summary>
[Collection(EngineCollection.Name)]
public sealed class EngineTests(EngineHost host)
{
    private static NewExecution Handler(string name, string? args = null) => new() { Kind = ExecutorKind.Handler, Name = name, ArgumentsJson = args };

    [Fact]
    public void TestHost_UsesItsOwnTempDatabase()
    {
        var database = host.Get<TaskdeckDatabase>();
        Assert.Contains(host.Folder, database.ConnectionString);
        Assert.True(File.Exists(host.DatabasePath));
    }

    [Fact]
    public async Task Submit_RunsToSucceeded_WithOneAttempt_AndItsLogLines()
    {
        var e = await host.Executions.SubmitAsync(Handler("demo.echo", """{"lines": ["first line", "second line"]}"""));

        var done = await host.WaitForStateAsync(e.Id, Succeeded);

        var attempt = Assert.Single(done.Attempts);
        Assert.Equal(1, attempt.Number);
        Assert.Equal(Succeeded, attempt.Outcome);
        Assert.NotNull(attempt.FinishedAt);
        Assert.Equal("""["first line","second line"]""", done.Execution.ResultJson);
        var output = string.Concat((await host.Queries.LogsAsync(e.Id, 1)).Where(l => l.Stream == LogStream.Output).Select(l => l.Text));
        Assert.Equal("first line\nsecond line\n", output);
        Assert.Equal([Queued, Running, Succeeded], done.History.Select(h => h.To));
    }

    [Fact]
    public async Task FailingHandler_WithTwoRetries_EndsFailed_AfterThreeAttempts_SpacedByTheInterval()
    {
        var e = await host.Executions.SubmitAsync(Handler("demo.fail", """{"message": "boom"}""") with { MaxRetries = 2, RetryIntervalSeconds = 1 });

        var done = await host.WaitForStateAsync(e.Id, Failed, TimeSpan.FromSeconds(30));

        Assert.Equal(3, done.Attempts.Count);
        Assert.All(done.Attempts, a => Assert.Equal(Failed, a.Outcome));
        Assert.All(done.Attempts, a => Assert.Contains("boom", a.Error));
        for (var i = 1; i < done.Attempts.Count; i++)
        {
            var gap = done.Attempts[i].StartedAt - done.Attempts[i - 1].FinishedAt!.Value;
            Assert.True(gap >= TimeSpan.FromSeconds(1), $"attempt {i + 1} started {gap.TotalMilliseconds} ms after attempt {i} ended");
        }
        Assert.Equal(2, done.History.Count(h => h.Transition == nameof(Transition.RetryLater)));
        Assert.Equal("InvalidOperationException: boom", done.Execution.ErrorMessage);
    }

    [Fact]
    public async Task ABigSubmission_AnswersBeforeItsJobsExist_AndEveryRecordStillRunsExactlyOnce()
    {
        var count = DispatchBacklog.InlineLimit * 3;

        var submitted = await host.Executions.SubmitManyAsync(Enumerable.Repeat(Handler("demo.noop"), count).ToList());

        Assert.All(submitted, e => Assert.Equal(Queued, e.State));
        foreach (var e in submitted)
            Assert.Single((await host.WaitForStateAsync(e.Id, Succeeded, TimeSpan.FromSeconds(60))).Attempts);
        // Each job's id is written back after its chunk of jobs exists, so a fast job may end before its id is stored.
        var backlog = host.Get<DispatchBacklog>();
        for (var waited = 0; backlog.Pending > 0 && waited < 100; waited++) await Task.Delay(100);
        foreach (var e in submitted)
            Assert.NotNull((await host.Queries.GetDetailAsync(e.Id))!.Execution.HangfireJobId);
    }

    [Fact]
    public async Task Cancel_OfQueuedRecord_EndsCancelled_WithoutAnAttempt()
    {
        var e = await host.Executions.SubmitAsync(Handler("demo.noop") with { RunAt = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.Equal(Scheduled, e.State);

        var outcome = await host.Executions.CancelAsync(e.Id, Actor.System);

        Assert.True(outcome.Done, outcome.Message);
        var detail = await host.Queries.GetDetailAsync(e.Id);
        Assert.Equal(Cancelled, detail!.Execution.State);
        Assert.Empty(detail.Attempts);
        Assert.Equal(ActionStatus.Conflict, (await host.Executions.CancelAsync(e.Id, Actor.System)).Status);
    }

    [Fact]
    public async Task Cancel_OfRunningHandler_FiresItsToken_AndEndsCancelled()
    {
        var e = await host.Executions.SubmitAsync(Handler("demo.sleep", """{"seconds": 60}"""));
        await host.WaitForStateAsync(e.Id, Running);

        var outcome = await host.Executions.CancelAsync(e.Id, Actor.System);
        Assert.True(outcome.Done, outcome.Message);

        // A handler that ignored its token would sleep 60 s: well past this deadline.
        var done = await host.WaitForStateAsync(e.Id, Cancelled, TimeSpan.FromSeconds(10));
        var attempt = Assert.Single(done.Attempts);
        Assert.Equal(Cancelled, attempt.Outcome);
        Assert.NotNull(attempt.FinishedAt);
        Assert.Equal([Queued, Running, Cancelling, Cancelled], done.History.Select(h => h.To));
        var output = string.Concat((await host.Queries.LogsAsync(e.Id, 1)).Select(l => l.Text));
        Assert.Contains("sleeping 60 s", output);
        Assert.DoesNotContain("woke up", output);
    }

    [Fact]
    public async Task Cancel_OfRunningCommand_KillsTheProcess_AndEndsCancelled()
    {
        var e = await host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Command, Name = "/bin/sleep", Command = ["/bin/sleep", "60"] });
        await host.WaitForStateAsync(e.Id, Running);
        var pid = await WaitForPidAsync(e.Id);
        Assert.True(Directory.Exists($"/proc/{pid}"), "the command should be running before the cancel");

        Assert.True((await host.Executions.CancelAsync(e.Id, Actor.System)).Done);

        var done = await host.WaitForStateAsync(e.Id, Cancelled, TimeSpan.FromSeconds(10));
        Assert.Equal(Cancelled, Assert.Single(done.Attempts).Outcome);
        Assert.False(IsAlive(pid), $"pid {pid} is still alive after the cancel");
    }

    [Fact]
    public async Task Timeout_EndsTimedOut_AndStopsTheHandler()
    {
        var e = await host.Executions.SubmitAsync(Handler("demo.sleep", """{"seconds": 60}""") with { TimeoutSeconds = 1 });

        var done = await host.WaitForStateAsync(e.Id, TimedOut, TimeSpan.FromSeconds(15));

        var attempt = Assert.Single(done.Attempts);
        Assert.Equal(TimedOut, attempt.Outcome);
        Assert.Contains("timed out after 1 s", done.Execution.ErrorMessage);
    }

    [Fact]
    public async Task ExpiredLease_ClosesTheAttemptAsLost_AndRequeuesInTheSameStep_ThenRunsIt()
    {
        var store = host.Get<ExecutionStore>();
        var deadNode = "dead-node-" + Guid.NewGuid().ToString("N")[..6];
        var longAgo = DateTimeOffset.UtcNow.AddHours(-1);
        await store.HeartbeatAsync(new WorkerNode { Id = deadNode, HostName = "gone", StartedAt = longAgo, HeartbeatAt = longAgo, Roles = "Workers", WorkerCount = 1, Cores = 1, MemoryMB = 1 });
        // Due in an hour, so no worker here takes it: the dead node "claimed" it.
        var e = await host.Executions.SubmitAsync(Handler("test.count") with { MaxRetries = 1, RunAt = DateTimeOffset.UtcNow.AddHours(1) });
        var claim = await host.Get<ExecutionTransitions>().ApplyAsync(new TransitionCommand(e.Id, Transition.Claim) { NodeId = deadNode });
        Assert.True(claim.Applied, claim.Describe());

        await host.Get<LeaseKeeper>().RecoverFromDeadNodesAsync(CancellationToken.None);

        var done = await host.WaitForStateAsync(e.Id, Succeeded);
        Assert.Equal(2, done.Attempts.Count);
        Assert.Equal((Lost, deadNode), (done.Attempts[0].Outcome, done.Attempts[0].NodeId));
        Assert.Equal(Succeeded, done.Attempts[1].Outcome);
        Assert.NotEqual(deadNode, done.Attempts[1].NodeId);
        // One commit takes it from Running back to wait for its retry: no crash of the recovering node can leave it Lost
        // with a retry to go (two commits, MarkLost then Retry, once did). The retry is the system's, not an operator's.
        Assert.Equal([Transition.Submit, Transition.Claim, Transition.RetryLost, Transition.Claim, Transition.Succeed],
            done.History.Select(h => Enum.Parse<Transition>(h.Transition)));
        Assert.Equal(Scheduled, done.History[2].To);
        Assert.Equal(1, host.Runs[e.Id]);
    }

    [Fact]
    public async Task EnteringTheQueue_GivesTheRecordItsJob_WhicheverCallerAppliedTheTransition()
    {
        var store = host.Get<ExecutionStore>();
        var e = await host.Executions.SubmitAsync(Handler("demo.fail", """{"message": "boom"}""") with { MaxRetries = 0 });
        await host.WaitForStateAsync(e.Id, Failed);
        var firstJob = (await store.FindAsync(e.Id))!.HangfireJobId;

        // The bare transition, not ExecutionService.RetryAsync: the job comes with entering Queued, not from the caller.
        var retried = await host.Get<ExecutionTransitions>().ApplyAsync(new TransitionCommand(e.Id, Transition.Retry) { Reason = "test" });

        Assert.True(retried.Applied, retried.Describe());
        var job = (await store.FindAsync(e.Id))!.HangfireJobId;
        Assert.NotNull(job);
        Assert.NotEqual(firstJob, job);
        var done = await host.WaitForAsync(e.Id, d => d.Attempts.Count == 2 && d.Execution.State == Failed);
        Assert.All(done.Attempts, a => Assert.Equal(Failed, a.Outcome));
    }

    [Fact]
    public async Task ClaimedHere_ButRunByNobody_IsInterrupted_AndRunsAgain()
    {
        // A claim this node made and then lost track of (its answer never came back: the database went away as it
        // committed). Its own lease stays live, so only this node can recover it.
        var e = await host.Executions.SubmitAsync(Handler("test.count") with { RunAt = DateTimeOffset.UtcNow.AddHours(1) });
        var here = host.Get<NodeIdentity>().Id;
        Assert.True((await host.Get<ExecutionTransitions>().ApplyAsync(new TransitionCommand(e.Id, Transition.Claim) { NodeId = here })).Applied);

        // The lease keeper's own pass finds it once it is older than a lease (5 s here): no retry budget is spent.
        var done = await host.WaitForStateAsync(e.Id, Succeeded, TimeSpan.FromSeconds(60));

        Assert.Equal(2, done.Attempts.Count);
        Assert.Equal((Lost, here), (done.Attempts[0].Outcome, done.Attempts[0].NodeId));
        Assert.Equal(Succeeded, done.Attempts[1].Outcome);
        Assert.Contains(done.History, h => h.Transition == nameof(Transition.Interrupt) && h.Reason!.Contains("lost track"));
        Assert.Equal(1, host.Runs[e.Id]);
    }

    [Fact]
    public async Task ExpiredLease_WithoutRetriesLeft_StaysLost()
    {
        var store = host.Get<ExecutionStore>();
        var deadNode = "dead-node-" + Guid.NewGuid().ToString("N")[..6];
        var longAgo = DateTimeOffset.UtcNow.AddHours(-1);
        await store.HeartbeatAsync(new WorkerNode { Id = deadNode, HostName = "gone", StartedAt = longAgo, HeartbeatAt = longAgo, Roles = "Workers", WorkerCount = 1, Cores = 1, MemoryMB = 1 });
        var e = await host.Executions.SubmitAsync(Handler("test.count") with { RunAt = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.True((await host.Get<ExecutionTransitions>().ApplyAsync(new TransitionCommand(e.Id, Transition.Claim) { NodeId = deadNode })).Applied);

        await host.Get<LeaseKeeper>().RecoverFromDeadNodesAsync(CancellationToken.None);

        var lost = await host.WaitForStateAsync(e.Id, Lost);
        Assert.Equal(Lost, Assert.Single(lost.Attempts).Outcome);
        Assert.Equal(nameof(Transition.MarkLost), lost.History[^1].Transition);
        Assert.False(host.Runs.ContainsKey(e.Id));
    }

    [Fact]
    public async Task StoreFind_ReadsEveryField_AsTheEfModelDoes()
    {
        var e = await host.Executions.SubmitAsync(new NewExecution
        {
            Kind = ExecutorKind.Command, Name = "/bin/echo", Command = ["/bin/echo", "a b", "ü"], Environment = ["A=1", "B=two"],
            WorkingDirectory = "/tmp", Queue = "q1", Priority = 3, MaxRetries = 2, RetryIntervalSeconds = 7, ExponentialBackoff = true,
            RetryPolicy = RetryPolicy.TransientOnly, TimeoutSeconds = 30, RunAt = DateTimeOffset.UtcNow.AddHours(2),
            ExpiresAt = DateTimeOffset.UtcNow.AddHours(3), Tags = ["x", "y"], DagTaskName = "t1", IsGenerator = true,
            Cores = 1.5, MemoryMB = 256, Gpus = 0, ArgumentsJson = """{"k": [1, 2]}""",
        });

        var raw = await host.Get<IExecutionReader>().FindAsync(e.Id);
        var ef = (await host.Queries.GetDetailAsync(e.Id))!.Execution;
        var byTaskId = await host.Get<IExecutionReader>().FindByTaskIdAsync(e.TaskId);

        var json = System.Text.Json.JsonSerializer.Serialize(ef);
        Assert.Equal(json, System.Text.Json.JsonSerializer.Serialize(raw));
        Assert.Equal(json, System.Text.Json.JsonSerializer.Serialize(byTaskId));
        Assert.Contains("\"HangfireJobId\":\"", json);
        Assert.Null(await host.Get<IExecutionReader>().FindAsync(987654321));
    }

    private async Task<int> WaitForPidAsync(long id)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < until)
        {
            var executor = string.Concat((await host.Queries.LogsAsync(id, 1)).Where(l => l.Stream == LogStream.Executor).Select(l => l.Text));
            var match = System.Text.RegularExpressions.Regex.Match(executor, @"started pid (\d+)");
            if (match.Success) return int.Parse(match.Groups[1].Value);
            await Task.Delay(25);
        }
        throw new Xunit.Sdk.XunitException($"execution {id} never logged its pid");
    }

    /// <summary>Gone, or a zombie nobody reaped yet (it runs nothing).</summary>
    private static bool IsAlive(int pid)
    {
        var status = $"/proc/{pid}/status";
        if (!File.Exists(status)) return false;
        try { return !File.ReadAllLines(status).Any(l => l.StartsWith("State:") && l.Contains('Z')); }
        catch (IOException) { return false; }
    }
}
