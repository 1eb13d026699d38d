using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.WorkTasks;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.WorkTasks;

/// <summary>
/// "The worker of attempt N reported it started" on a real database: the guarded UPDATE and the count the metrics read,
/// translated by each provider.
/// </summary>
public abstract class WorkerStartedStoreTests
{
    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    [Fact]
    public async Task WorkerStarted_CountsForItsOwnRunningAttemptOnly()
    {
        await using var storage = await StartAsync();
        var executions = storage.Get<IExecutionStore>();
        var workTasks = storage.Get<IWorkTaskStore>();
        var queries = storage.Get<WorkTaskQueries>();
        var at = DateTimeOffset.UtcNow;
        var id = (await executions.InsertAsync([(new NewExecution { Kind = ExecutorKind.Command, Name = "stepped", Command = ["/bin/true"] }, ExecutionState.Queued)], at, "test"))[0];
        await workTasks.InsertAsync(new WorkTask { ExecutionId = id, WorkTaskId = "wt-1", Type = "stepped", ProjectId = "p", Binding = WorkTaskBinding.Spawned });

        Assert.False(await workTasks.RecordWorkerStartedAsync(id, 1), "nothing runs yet");
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "test" }, at)).Applied);
        Assert.False(Assert.Single(await queries.CountWorkTasksAsync()).WorkerStarted);

        Assert.False(await workTasks.RecordWorkerStartedAsync(id, 2), "attempt 2 is not the one running");
        Assert.True(await workTasks.RecordWorkerStartedAsync(id, 1));
        Assert.Equal(1, (await workTasks.FindAsync("wt-1"))!.Task.WorkerStartedAttempt);
        Assert.True(Assert.Single(await queries.CountWorkTasksAsync()).WorkerStarted);

        // The next attempt reads not-started with nothing reset.
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.RetryLater) { ExpectedAttempt = 1, RunAt = at, ErrorMessage = "OOMKilled" }, at)).Applied);
        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "test" }, at)).Applied);
        Assert.False(Assert.Single(await queries.CountWorkTasksAsync()).WorkerStarted);

        Assert.True((await executions.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { ExpectedAttempt = 2 }, at)).Applied);
        Assert.False(await workTasks.RecordWorkerStartedAsync(id, 2), "the attempt has ended");
        Assert.Equal(1, (await workTasks.FindAsync("wt-1"))!.Task.WorkerStartedAttempt);
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
    protected override async Task<Dictionary<string, string?>> SettingsAsync() => new()
    {
        ["Taskdeck:Storage:Provider"] = "PostgreSql",
        ["ConnectionStrings:Taskdeck"] = await postgres.CreateDatabaseAsync(),
    };
}
