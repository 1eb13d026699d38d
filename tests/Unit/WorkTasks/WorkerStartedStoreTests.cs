using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.Executions;
using Taskdeck.Data.WorkTasks;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.WorkTasks;

/// <summary>
/// What a worker reports ("the worker of attempt N started", its progress metadata) on a real database: the guarded UPDATE
/// and the count the metrics read, translated by each provider.
/// </summary>
public abstract class WorkerStartedStoreTests
{
    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    [Fact]
    public async Task WorkerStarted_CountsForItsOwnRunningAttemptOnly()
    {
        await using var storage = await StartAsync();
        var executions = storage.Get<ExecutionStore>();
        var workTasks = storage.Get<IWorkTaskStore>();
        var queries = storage.Get<WorkTaskQueries>();
        var at = DateTimeOffset.UtcNow;
        var id = (await executions.InsertAsync([(new NewExecution { Kind = ExecutorKind.Command, Name = "stepped", Command = ["/bin/true"] }, ExecutionState.Queued)], at, "test"))[0];
        await workTasks.InsertAsync(new WorkTask { ExecutionId = id, WorkTaskId = "wt-1", Type = "stepped", ProjectId = "p", Binding = WorkTaskBinding.Spawned });

        Assert.False(await Started(id, 1), "nothing runs yet");
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "test" }, at)).Applied);
        Assert.False(Assert.Single(await queries.CountWorkTasksAsync()).WorkerStarted);

        Assert.False(await Started(id, 2), "attempt 2 is not the one running");
        Assert.True(await Started(id, 1));
        Assert.Equal(1, (await workTasks.FindAsync("wt-1"))!.Task.WorkerStartedAttempt);
        Assert.True(Assert.Single(await queries.CountWorkTasksAsync()).WorkerStarted);

        // The next attempt reads not-started with nothing reset.
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.RetryLater) { ExpectedAttempt = 1, RunAt = at, ErrorMessage = "OOMKilled" }, at)).Applied);
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "test" }, at)).Applied);
        Assert.False(Assert.Single(await queries.CountWorkTasksAsync()).WorkerStarted);

        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { ExpectedAttempt = 2 }, at)).Applied);
        Assert.False(await Started(id, 2), "the attempt has ended");
        Assert.Equal(1, (await workTasks.FindAsync("wt-1"))!.Task.WorkerStartedAttempt);

        Task<bool> Started(long execution, int attempt) =>
            workTasks.RecordWorkerReportAsync(execution, ExecutionState.Running, attempt, metadataJson: null, started: true);
    }

    // A progress report racing its worker's end: what the end recorded stays, and the report says it was not taken.
    [Fact]
    public async Task Progress_IsKeptWhileItsAttemptRuns_AndNeverOverwritesWhatTheEndRecorded()
    {
        await using var storage = await StartAsync();
        var executions = storage.Get<ExecutionStore>();
        var workTasks = storage.Get<IWorkTaskStore>();
        var at = DateTimeOffset.UtcNow;
        var id = (await executions.InsertAsync([(new NewExecution { Kind = ExecutorKind.External, Name = "pipeline_execution" }, ExecutionState.Queued)], at, "test"))[0];
        await workTasks.InsertAsync(new WorkTask { ExecutionId = id, WorkTaskId = "wt-2", Type = "pipeline_execution", ProjectId = "p", Binding = WorkTaskBinding.External });
        Task<bool> Report(ExecutionState state, int attempt, string metadata) => workTasks.RecordWorkerReportAsync(id, state, attempt, metadata, started: false);
        async Task<string?> Metadata() => (await workTasks.FindAsync("wt-2"))!.Task.MetadataJson;

        // An external worker's first report is kept while the task still waits as it was read, before its start is applied.
        Assert.False(await Report(ExecutionState.Running, 0, """{"step":"early"}"""), "it does not run yet");
        Assert.True(await Report(ExecutionState.Queued, 0, """{"step":"starting"}"""));
        Assert.Equal("""{"step":"starting"}""", await Metadata());
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.ReportStarted) { NodeId = "test" }, at)).Applied);

        Assert.False(await Report(ExecutionState.Queued, 0, """{"step":"stale"}"""), "it runs now");
        Assert.True(await Report(ExecutionState.Running, 1, """{"step":"half"}"""));
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.RequestCancel), at)).Applied);
        Assert.False(await Report(ExecutionState.Running, 1, """{"step":"cancelling"}"""), "it is being cancelled");
        Assert.True(await workTasks.RecordWorkerEndAsync(id, [ExecutionState.Running, ExecutionState.Cancelling], 1, null, """{"step":"final"}"""));
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { ExpectedAttempt = 1 }, at)).Applied);

        Assert.False(await Report(ExecutionState.Running, 1, """{"step":"late"}"""), "the attempt has ended");
        Assert.Equal("""{"step":"final"}""", await Metadata());
    }

    // A worker's end is kept before the end is applied, guarded as the end's transition is: the states it leaves from, the
    // attempt it closes.
    [Fact]
    public async Task AWorkersEnd_IsKeptOnlyWhileTheEndCanStillApplyToItsAttempt()
    {
        await using var storage = await StartAsync();
        var executions = storage.Get<ExecutionStore>();
        var workTasks = storage.Get<IWorkTaskStore>();
        var at = DateTimeOffset.UtcNow;
        var id = (await executions.InsertAsync([(new NewExecution { Kind = ExecutorKind.External, Name = "pipeline_execution" }, ExecutionState.Queued)], at, "test"))[0];
        await workTasks.InsertAsync(new WorkTask { ExecutionId = id, WorkTaskId = "wt-3", Type = "pipeline_execution", ProjectId = "p", Binding = WorkTaskBinding.External });
        Task<bool> End(ExecutionState[] from, int attempt, string output) =>
            workTasks.RecordWorkerEndAsync(id, from, attempt, output, $$"""{"output":"{{output}}"}""");
        async Task<WorkTask> Row() => (await workTasks.FindAsync("wt-3"))!.Task;
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.ReportStarted) { NodeId = "test" }, at)).Applied);

        Assert.False(await End([ExecutionState.Running], 2, "s3://another-attempt"), "attempt 2 is not the one running");
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.RequestCancel), at)).Applied);
        Assert.False(await End([ExecutionState.Running], 1, "s3://failed"), "a failure cannot end a task being cancelled");
        Assert.Null((await Row()).OutputLocation);
        Assert.True(await End([ExecutionState.Running, ExecutionState.Cancelling], 1, "s3://succeeded"), "a success still can");
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { ExpectedAttempt = 1 }, at)).Applied);

        Assert.False(await End([ExecutionState.Running, ExecutionState.Cancelling], 1, "s3://again"), "the attempt has ended");
        Assert.Equal("s3://succeeded", (await Row()).OutputLocation);
        Assert.Equal("""{"output":"s3://succeeded"}""", (await Row()).MetadataJson);
        Assert.Null((await Row()).RetryReason);
        await workTasks.RecordRetryReasonAsync(id, "OOMKilled");
        Assert.Equal("OOMKilled", (await Row()).RetryReason);
    }

    private async Task<StorageHost> StartAsync() => await StorageHost.StartAsync(await SettingsAsync());

}

public sealed class SqliteWorkerStartedStoreTests : WorkerStartedStoreTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() =>
        Task.FromResult(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=started.db" });
}

[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlWorkerStartedStoreTests(PostgresServer postgres) : WorkerStartedStoreTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() => postgres.StorageSettingsAsync();
}
