using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Storage;

/// <summary>
/// The engine's bulk writes (a DAG's thousands of tasks in one submission) on a real database: every row gets its own
/// id, in the order given, with its own values and its Submit history row, whatever the statement batching.
/// </summary>
public abstract class BulkWriteTests
{
    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    [Fact]
    public async Task ABulkInsert_GivesEveryRowItsOwnId_InOrder_WithItsOwnValues()
    {
        await using var storage = await StartAsync();
        var store = storage.Get<ExecutionStore>();
        // More rows than one statement holds on any provider, with columns that vary, repeat and are null in turn.
        var items = Enumerable.Range(0, 1_234).Select(i => (new NewExecution
        {
            Kind = i % 3 == 0 ? ExecutorKind.Handler : ExecutorKind.Command,
            Name = i % 3 == 0 ? "demo.noop" : "/bin/echo",
            TaskId = i % 5 == 0 ? $"given-{i}" : Guid.CreateVersion7().ToString(),
            Command = i % 3 == 0 ? [] : ["/bin/echo", i.ToString()],
            ArgumentsJson = i % 7 == 0 ? $"{{\"n\":{i}}}" : null,
            Priority = i % 4,
            DagTaskName = i % 2 == 0 ? $"task_{i}" : null,
            Cores = i % 10 == 0 ? 0.5 : 0,
            MemoryMB = i * 3L,
        }, i % 2 == 0 ? ExecutionState.Queued : ExecutionState.Pending)).ToList();

        var ids = await store.InsertAsync(items, DateTimeOffset.UtcNow, "bulk-test");

        Assert.Equal(items.Count, ids.Distinct().Count());
        for (var i = 0; i < items.Count; i += 37)
        {
            var (spec, state) = items[i];
            var stored = (await store.FindAsync(ids[i]))!;
            Assert.Equal((spec.TaskId, spec.Name, spec.Kind, state, spec.Priority, spec.DagTaskName, spec.ArgumentsJson, spec.Cores, spec.MemoryMB),
                (stored.TaskId, stored.Name, stored.Kind, stored.State, stored.Priority, stored.DagTaskName, stored.ArgumentsJson, stored.Cores, stored.MemoryMB));
            Assert.Equal(spec.Command, stored.Command);
        }
        var history = (await store.ChangesAfterAsync(0, 10_000)).Select(f => f.Change).ToList();
        Assert.Equal(items.Count, history.Count(h => h.Transition == nameof(Transition.Submit) && h.NodeId == "bulk-test"));
        Assert.All(history, h => Assert.Equal(items[ids.ToList().IndexOf(h.ExecutionId)].Item2, h.To));
    }

    [Fact]
    public async Task ATaskIdGivenTwiceInOneInsert_IsRefused_AndNothingIsStored()
    {
        await using var storage = await StartAsync();
        var store = storage.Get<ExecutionStore>();
        var twice = new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", TaskId = "same" };

        // Refused by the insert's own check, naming the id, before the database's unique index (whose error would name nothing).
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => store.InsertAsync([(twice, ExecutionState.Queued), (twice, ExecutionState.Queued)], DateTimeOffset.UtcNow, "bulk-test"));
        Assert.Contains("TaskId 'same' appears twice in one insert", refused.Message);

        Assert.Null(await store.FindByTaskIdAsync("same"));
    }

    [Fact]
    public async Task ThousandsOfEdges_AreStoredInOneCall()
    {
        await using var storage = await StartAsync();
        var dags = storage.Get<IDagStore>();
        var store = storage.Get<ExecutionStore>();
        var runId = await dags.CreateRunAsync("edges", "{}", "{}", false, DateTimeOffset.UtcNow);
        var ids = await store.InsertAsync(
            Enumerable.Range(0, 1_501).Select(i => (new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", DagRunId = runId, DagTaskName = $"t{i}" }, ExecutionState.Pending)).ToList(),
            DateTimeOffset.UtcNow, "bulk-test");
        var edges = ids.Skip(1).Select(child => (ids[0], child)).ToList();

        await dags.AddEdgesAsync(runId, edges);

        var stored = await dags.EdgesAsync(runId);
        Assert.Equal(edges.Order(), stored.Select(e => (e.ParentExecutionId, e.ChildExecutionId)).Order());
    }

    private async Task<StorageHost> StartAsync() => await StorageHost.StartAsync(await SettingsAsync());

}

public sealed class SqliteBulkWriteTests : BulkWriteTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() =>
        Task.FromResult(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=bulk.db" });
}

[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlBulkWriteTests(PostgresServer postgres) : BulkWriteTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() => postgres.StorageSettingsAsync();
}
