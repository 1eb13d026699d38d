using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// On PostgreSQL a state change's id is taken at insert and becomes visible at commit: another node's follower must see
/// a change that commits after a higher id was already read (it used to skip it for good). What it publishes of them is
/// what the history rows carry.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ChangeFollowerLateCommitTests(PostgresServer postgres)
{
    [Fact]
    public async Task TwoTransactionsCommittingOutOfIdOrder_AreBothSeenByAnotherNodesFollower()
    {
        await using var node = await FollowingNode.StartAsync(postgres);
        var (store, contexts, follower, id) = (node.Store, node.Contexts, node.Follower, node.ExecutionId);
        var cursor = await store.LatestChangeIdAsync();

        // The early transaction takes its id first and stays open; the late one takes a higher id and commits first.
        await using var early = await contexts.CreateDbContextAsync();
        await using var earlyTransaction = await early.Database.BeginTransactionAsync();
        early.StateChanges.Add(Change(id, ExecutionState.Queued, ExecutionState.Running, "node-b"));
        await early.SaveChangesAsync();
        await using (var late = await contexts.CreateDbContextAsync())
        {
            late.StateChanges.Add(Change(id, ExecutionState.Running, ExecutionState.Cancelling, "node-c"));
            await late.SaveChangesAsync();
        }

        cursor = await follower.FollowAsync(cursor, CancellationToken.None);
        Assert.Equal([ExecutionState.Cancelling], node.Seen().Select(s => s.To));
        Assert.Equal(1, follower.GapCount);

        await earlyTransaction.CommitAsync();
        cursor = await follower.FollowAsync(cursor, CancellationToken.None);
        Assert.Equal([ExecutionState.Cancelling, ExecutionState.Running], node.Seen().Select(s => s.To));
        Assert.Equal(0, follower.GapCount);

        // Seen once: later passes neither repeat it nor lose the cursor.
        await follower.FollowAsync(cursor, CancellationToken.None);
        Assert.Equal(2, node.Seen().Count);
    }

    [Fact]
    public async Task ThisNodesOwnChanges_AreReadBare_NotPublished_AndLeaveNoGap()
    {
        await using var node = await FollowingNode.StartAsync(postgres);
        var (store, contexts, follower, id, me) = (node.Store, node.Contexts, node.Follower, node.ExecutionId, node.Identity);
        var start = await store.LatestChangeIdAsync();

        // Committed one by one, in id order: mine, mine, another node's, mine.
        foreach (var (from, to, by) in new[]
                 {
                     (ExecutionState.Queued, ExecutionState.Running, me.Id), (ExecutionState.Running, ExecutionState.Succeeded, me.Id),
                     (ExecutionState.Succeeded, ExecutionState.Queued, "node-b"), (ExecutionState.Queued, ExecutionState.Running, me.Id),
                 })
        {
            await using var db = await contexts.CreateDbContextAsync();
            db.StateChanges.Add(Change(id, from, to, by));
            await db.SaveChangesAsync();
        }

        var cursor = await follower.FollowAsync(start, CancellationToken.None);
        Assert.Equal([(ExecutionState.Queued, "node-b")], node.Seen().Select(s => (s.To, s.NodeId)));
        Assert.Equal(0, follower.GapCount);
        Assert.Equal(await store.LatestChangeIdAsync(), cursor);

        var read = await store.ChangesAfterAsync(start, 100, exceptNode: me.Id);
        Assert.Equal([true, true, false, true], read.Select(f => f.IsBare).ToList());
        Assert.All(read.Where(f => f.IsBare), f => Assert.Equal(("", me.Id), (f.Change.Transition, f.Change.NodeId)));
        var other = Assert.Single(read, f => !f.IsBare).Change;
        Assert.Equal(("Test", "node-b", id, ExecutionState.Succeeded), (other.Transition, other.NodeId, other.ExecutionId, other.From));
        // Without a node to leave out, every change is read whole.
        Assert.All(await store.ChangesAfterAsync(start, 100), f => Assert.Equal((false, "Test"), (f.IsBare, f.Change.Transition)));
        Assert.Equal(read.Select(f => f.Change.Id), (await store.ChangesWithIdsAsync(read.Select(f => f.Change.Id).ToList(), exceptNode: me.Id)).Select(f => f.Change.Id));
    }

    // Another node's changes reach this node's pages and sockets with the attempt they belong to (the history rows carry it),
    // as this node's own events always did: a Claim opens attempt n, its end and a cancel request of it are attempt n too.
    [Fact]
    public async Task AnotherNodesChanges_CarryTheAttemptTheyBelongTo_OnPostgreSql() =>
        await ChangesCarryTheirAttemptAsync(await FollowingNode.StartAsync(postgres));

    [Fact]
    public async Task AnotherNodesChanges_CarryTheAttemptTheyBelongTo_OnSqlite() =>
        await ChangesCarryTheirAttemptAsync(await FollowingNode.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=attempts.db" }));

    private static async Task ChangesCarryTheirAttemptAsync(FollowingNode node)
    {
        await using var _ = node;
        var (store, follower, id) = (node.Store, node.Follower, node.ExecutionId);
        var cursor = await store.LatestChangeIdAsync();
        var at = DateTimeOffset.UtcNow;
        async Task Apply(TransitionCommand command) => Assert.True((await store.ApplyAsync(command with { NodeId = "node-b" }, at)).Applied, command.Transition.ToString());

        await Apply(new TransitionCommand(id, Transition.Claim));
        await Apply(new TransitionCommand(id, Transition.RetryLater) { ExpectedAttempt = 1, RunAt = at, ErrorMessage = "OOMKilled" });
        await Apply(new TransitionCommand(id, Transition.Claim));
        Assert.Single(await store.ApplyManyAsync(new TransitionCommand(id, Transition.RequestCancel) { NodeId = "node-b", ActorName = "alice" }, [id], at));
        await Apply(new TransitionCommand(id, Transition.ConfirmCancel) { ExpectedAttempt = 2 });
        await follower.FollowAsync(cursor, CancellationToken.None);

        Assert.Equal(
            [(Transition.Claim, 1), (Transition.RetryLater, 1), (Transition.Claim, 2), (Transition.RequestCancel, 2), (Transition.ConfirmCancel, 2)],
            node.Seen().Select(s => (s.Transition!.Value, s.AttemptNumber)));
    }

    // The follower reads a window of ids after its cursor (so PostgreSQL serves it from the primary key whatever its
    // statistics say); an identity that jumps past the window (SQL Server's after a restart, a reseed) must not stall it.
    [Fact]
    public async Task AChangeFarPastTheCursor_IsStillRead_WhenTheIdsJump_OnPostgreSql() =>
        await AChangeFarPastTheCursorIsReadAsync(await FollowingNode.StartAsync(postgres));

    [Fact]
    public async Task AChangeFarPastTheCursor_IsStillRead_WhenTheIdsJump_OnSqlite() =>
        await AChangeFarPastTheCursorIsReadAsync(await FollowingNode.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=jump.db" }));

    private static async Task AChangeFarPastTheCursorIsReadAsync(FollowingNode node)
    {
        await using var _ = node;
        var cursor = await node.Store.LatestChangeIdAsync();
        await using (var db = await node.Contexts.CreateDbContextAsync())
        {
            var jumped = Change(node.ExecutionId, ExecutionState.Queued, ExecutionState.Running, "node-b");
            jumped.Id = cursor + 250_000;
            db.StateChanges.Add(jumped);
            await db.SaveChangesAsync();
        }

        var read = await node.Store.ChangesAfterAsync(cursor, 10);
        Assert.Equal([cursor + 250_000], read.Select(f => f.Change.Id));
        Assert.Equal(cursor + 250_000, await node.Follower.FollowAsync(cursor, CancellationToken.None));
        Assert.Equal([(ExecutionState.Running, "node-b")], node.Seen().Select(s => (s.To, s.NodeId)));
    }

    /// <summary>
    /// A node on a fresh PostgreSQL database holding one execution, with a follower whose published changes are kept;
    /// the tests write the other nodes' history rows beside it through <see cref="Contexts"/>.
    /// </summary>
    private sealed class FollowingNode : IAsyncDisposable
    {
        private readonly StorageHost _storage;
        private readonly IDisposable _subscription;
        private readonly List<StateChanged> _seen = [];

        private FollowingNode(StorageHost storage, long executionId)
        {
            _storage = storage;
            ExecutionId = executionId;
            var events = new ExecutionEvents();
            _subscription = events.Subscribe(e => { if (e is StateChanged s) lock (_seen) _seen.Add(s); });
            Identity = new NodeIdentity(Options.Create(new TaskdeckOptions()));
            Follower = new ChangeFollower(Store, events, [], Identity, new PollingChangeSignal(TimeProvider.System), Options.Create(new TaskdeckOptions()),
                TimeProvider.System, NullLogger<ChangeFollower>.Instance);
        }

        public ExecutionStore Store => _storage.Get<ExecutionStore>();
        public IDbContextFactory<TaskdeckDbContext> Contexts => _storage.Get<IDbContextFactory<TaskdeckDbContext>>();
        public NodeIdentity Identity { get; }
        public ChangeFollower Follower { get; }
        public long ExecutionId { get; }

        /// <summary>The changes the follower published so far, in order.</summary>
        public List<StateChanged> Seen() { lock (_seen) return [.. _seen]; }

        public static async Task<FollowingNode> StartAsync(PostgresServer postgres) => await StartAsync(await postgres.StorageSettingsAsync());

        public static async Task<FollowingNode> StartAsync(Dictionary<string, string?> settings)
        {
            var storage = await StorageHost.StartAsync(settings);
            var ids = await storage.Get<ExecutionStore>().InsertAsync([(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)],
                DateTimeOffset.UtcNow, "follower-test");
            return new FollowingNode(storage, ids[0]);
        }

        public async ValueTask DisposeAsync()
        {
            _subscription.Dispose();
            await _storage.DisposeAsync();
        }
    }

    private static StateChange Change(long executionId, ExecutionState from, ExecutionState to, string node) => new()
    {
        ExecutionId = executionId, At = DateTimeOffset.UtcNow, From = from, To = to, Transition = "Test", NodeId = node,
    };
}
