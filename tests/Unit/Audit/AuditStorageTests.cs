using Taskdeck.Core.Audit;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Audit;
using Taskdeck.Data.Executions;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Audit;

/// <summary>
/// The audit trail's storage and the "by" column of the state history, on a real migrated database of each provider
/// the tests can run: what is written is read back, filtered, paged, pruned, and outlives the records it names.
/// </summary>
public abstract class AuditStorageTests
{
    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    private async Task<StorageHost> StartAsync() => await StorageHost.StartAsync(await SettingsAsync());

    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);

    private static AuditEntry Entry(string actor, string action, DateTimeOffset at, AuditOutcome outcome = AuditOutcome.Applied, params long[] ids) => new()
    {
        At = at, ActorName = actor, ActorKind = ActorKind.User, Address = "10.0.0.7", Action = action, RecordType = AuditRecordTypes.Execution,
        RecordIds = ids.Length == 0 ? null : "|" + string.Concat(ids.Select(i => $"{i}|")), Count = outcome == AuditOutcome.Refused ? 0 : ids.Length,
        Outcome = outcome, Reason = outcome == AuditOutcome.Refused ? "wrong state" : null,
    };

    [Fact]
    public async Task AnOperatorsTransition_KeepsTheActorsName_AndTheEnginesOwnKeepNone()
    {
        await using var storage = await StartAsync();
        var store = storage.Get<ExecutionStore>();
        var at = DateTimeOffset.UtcNow;
        var id = (await store.InsertAsync([(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)], at, "node-a"))[0];

        Assert.True((await store.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "node-a" }, at)).Applied);
        Assert.True((await store.ApplyAsync(new TransitionCommand(id, Transition.RequestCancel) { NodeId = "node-a", ActorName = "alice" }, at)).Applied);
        Assert.True((await store.ApplyAsync(new TransitionCommand(id, Transition.ConfirmCancel) { NodeId = "node-a" }, at)).Applied);
        Assert.True((await store.ApplyAsync(new TransitionCommand(id, Transition.Retry) { NodeId = "node-a", ActorName = "ci-token" }, at)).Applied);

        var history = (await store.ChangesAfterAsync(0, 100)).Select(f => f.Change).Where(h => h.ExecutionId == id).ToList();
        Assert.Equal(
            [(nameof(Transition.Submit), null), (nameof(Transition.Claim), null), (nameof(Transition.RequestCancel), "alice"),
             (nameof(Transition.ConfirmCancel), null), (nameof(Transition.Retry), (string?)"ci-token")],
            history.Select(h => (h.Transition, h.ActorName)).ToList());
    }

    [Fact]
    public async Task Entries_AreReadBackNewestFirst_ByActor_Action_Record_Outcome_AndTime()
    {
        await using var storage = await StartAsync();
        var store = storage.Get<IAuditStore>();
        var queries = storage.Get<AuditQueries>();
        await store.AppendAsync(Entry("alice", AuditActions.Cancel, T0, AuditOutcome.Applied, 12));
        await store.AppendAsync(Entry("alice", AuditActions.Retry, T0.AddMinutes(1), AuditOutcome.Refused, 12));
        await store.AppendAsync(Entry("bob", AuditActions.Delete, T0.AddMinutes(2), AuditOutcome.Applied, 120, 13));
        await store.AppendAsync(Entry("bob", AuditActions.KillDag, T0.AddMinutes(3)) );
        await store.AppendAsync(Entry("carol", AuditActions.SignIn, T0.AddMinutes(4), AuditOutcome.Refused));

        async Task<string[]> Actions(AuditFilter filter) => (await queries.PageAsync(filter, 0, 50)).Items.Select(e => $"{e.ActorName}:{e.Action}").ToArray();

        Assert.Equal(["carol:auth.sign-in", "bob:dagrun.kill", "bob:execution.delete", "alice:execution.retry", "alice:execution.cancel"], await Actions(new AuditFilter()));
        Assert.Equal(["alice:execution.retry", "alice:execution.cancel"], await Actions(new AuditFilter { Actor = "alice" }));
        Assert.Equal(["bob:execution.delete", "alice:execution.retry", "alice:execution.cancel"], await Actions(new AuditFilter { Action = "execution." }));
        Assert.Equal(["bob:execution.delete"], await Actions(new AuditFilter { Action = AuditActions.Delete }));
        // 12 is named by two entries; 120 and 13 by another, which a record filter of 12 must not match.
        Assert.Equal(["alice:execution.retry", "alice:execution.cancel"], await Actions(new AuditFilter { RecordId = "12" }));
        Assert.Equal(["bob:execution.delete"], await Actions(new AuditFilter { RecordId = "13" }));
        Assert.Equal(["carol:auth.sign-in", "alice:execution.retry"], await Actions(new AuditFilter { Outcome = AuditOutcome.Refused }));
        Assert.Equal(["bob:dagrun.kill", "bob:execution.delete"], await Actions(new AuditFilter { From = T0.AddMinutes(2), To = T0.AddMinutes(4) }));

        var second = await queries.PageAsync(new AuditFilter(), 2, 2);
        Assert.Equal(5, second.Total);
        Assert.Equal(["bob:execution.delete", "alice:execution.retry"], second.Items.Select(e => $"{e.ActorName}:{e.Action}"));
        var read = (await queries.PageAsync(new AuditFilter { Action = AuditActions.Delete }, 0, 1)).Items[0];
        Assert.Equal((T0.AddMinutes(2), ActorKind.User, "10.0.0.7", AuditRecordTypes.Execution, 2, AuditOutcome.Applied),
            (read.At, read.ActorKind, read.Address, read.RecordType, read.Count, read.Outcome));
        Assert.Equal(["120", "13"], read.Ids);
    }

    [Fact]
    public async Task AnEntry_OutlivesTheExecutionItNames()
    {
        await using var storage = await StartAsync();
        var store = storage.Get<ExecutionStore>();
        var at = DateTimeOffset.UtcNow;
        var id = (await store.InsertAsync([(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)], at, "node-a"))[0];
        Assert.True((await store.ApplyAsync(new TransitionCommand(id, Transition.CancelWaiting) { ActorName = "alice" }, at)).Applied);
        await storage.Get<IAuditStore>().AppendAsync(Entry("alice", AuditActions.Cancel, at, AuditOutcome.Applied, id));

        Assert.True((await store.DeleteTerminalAsync(id)).Deleted);

        Assert.Null(await store.FindAsync(id));
        var kept = (await storage.Get<AuditQueries>().PageAsync(new AuditFilter { RecordId = id.ToString() }, 0, 10)).Items;
        Assert.Equal(AuditActions.Cancel, Assert.Single(kept).Action);
        Assert.Empty((await storage.Get<AuditQueries>().ExistingAsync(kept)).Executions);
    }

    [Fact]
    public async Task Prune_DeletesOnlyEntriesOlderThanTheCutoff_InChunks()
    {
        await using var storage = await StartAsync();
        var store = storage.Get<IAuditStore>();
        for (var i = 0; i < 7; i++) await store.AppendAsync(Entry("old", AuditActions.Cancel, T0.AddDays(-30).AddMinutes(i)));
        await store.AppendAsync(Entry("new", AuditActions.Cancel, T0));

        Assert.Equal(5, await store.PruneAsync(T0.AddDays(-1), limit: 5));
        Assert.Equal(2, await store.PruneAsync(T0.AddDays(-1), limit: 5));
        Assert.Equal(0, await store.PruneAsync(T0.AddDays(-1), limit: 5));

        var left = (await storage.Get<AuditQueries>().PageAsync(new AuditFilter(), 0, 10)).Items;
        Assert.Equal("new", Assert.Single(left).ActorName);
    }
}

public sealed class SqliteAuditStorageTests : AuditStorageTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() =>
        Task.FromResult(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=audit.db" });
}

[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlAuditStorageTests(PostgresServer postgres) : AuditStorageTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() => postgres.StorageSettingsAsync();
}
