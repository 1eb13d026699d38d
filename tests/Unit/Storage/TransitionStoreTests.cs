using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Storage;

/// <summary>
/// The store's compare-and-set on a real database, as the writers send it: many transitions gathered in one transaction
/// (on PostgreSQL one statement each, many statements a round trip, on parallel writers), and two stores — two nodes —
/// racing on the same records. Whatever the batching, each transition applies exactly when the record's state allows it,
/// with its attempt and history rows, and answers what it found. Two nodes racing: PostgreSQL only (SQLite is one node's).
/// </summary>
public abstract class TransitionStoreTests
{
    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    protected static readonly NewExecution Noop = new() { Kind = ExecutorKind.Handler, Name = "demo.noop" };

    protected static async Task<IReadOnlyList<long>> QueuedAsync(ExecutionStore store, int count) =>
        await store.InsertAsync(Enumerable.Repeat((Noop, ExecutionState.Queued), count).ToList(), DateTimeOffset.UtcNow, "test");

    [Fact]
    public async Task ALogLineHoldingANul_IsStored_AndTheLinesBatchedWithItToo()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var ids = await QueuedAsync(store, 2);
        var sink = new LogSink(store, new ExecutionEvents(), TimeProvider.System, NullLogger<LogSink>.Instance);

        sink.Append(ids[0], 1, LogStream.Output, "binary\0output\n");
        sink.Append(ids[1], 1, LogStream.Output, "a neighbour's line\n");
        await sink.FlushAsync();

        Assert.Equal(0, sink.Unwritten);
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        // By execution: on PostgreSQL each execution's lines may go through a writer of their own, committed in either order.
        var lines = await db.LogEntries.AsNoTracking().Where(l => ids.Contains(l.ExecutionId)).OrderBy(l => l.ExecutionId).ThenBy(l => l.Id).Select(l => l.Text).ToListAsync();
        Assert.Equal(["binary\uFFFDoutput\n", "a neighbour's line\n"], lines);
    }

    [Fact]
    public async Task TransitionsIssuedTogether_EachAnswerTheirOwnRecord_InTheOrderIssued()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var ids = await QueuedAsync(store, 3);
        var at = DateTimeOffset.UtcNow;

        // Issued without waiting, so the writer gathers them: the same record twice, a record in a state the rule does not
        // start from, a record that does not exist, and one more that applies.
        var claim = store.ApplyAsync(new TransitionCommand(ids[0], Transition.Claim) { NodeId = "a" }, at);
        var succeed = store.ApplyAsync(new TransitionCommand(ids[0], Transition.Succeed) { NodeId = "a", ExpectedAttempt = 1, ResultJson = "{\"n\":1}" }, at);
        var notRunning = store.ApplyAsync(new TransitionCommand(ids[1], Transition.Succeed) { NodeId = "a" }, at);
        var missing = store.ApplyAsync(new TransitionCommand(ids[2] + 1_000, Transition.Claim) { NodeId = "a" }, at);
        var other = store.ApplyAsync(new TransitionCommand(ids[2], Transition.Claim) { NodeId = "b" }, at);
        var wrongAttempt = store.ApplyAsync(new TransitionCommand(ids[2], Transition.Fail) { NodeId = "b", ExpectedAttempt = 7, ErrorMessage = "no" }, at);

        Assert.Equal((true, (ExecutionState?)ExecutionState.Queued, (ExecutionState?)ExecutionState.Running, 1), Describe(await claim));
        Assert.Equal((true, (ExecutionState?)ExecutionState.Running, (ExecutionState?)ExecutionState.Succeeded, 1), Describe(await succeed));
        Assert.Equal((false, (ExecutionState?)ExecutionState.Queued, (ExecutionState?)null, 0), Describe(await notRunning));
        Assert.Equal((false, (ExecutionState?)null, (ExecutionState?)null, 0), Describe(await missing));
        Assert.Equal((true, (ExecutionState?)ExecutionState.Queued, (ExecutionState?)ExecutionState.Running, 1), Describe(await other));
        Assert.Equal((false, (ExecutionState?)ExecutionState.Running, (ExecutionState?)null, 1), Describe(await wrongAttempt));

        var done = (await store.FindAsync(ids[0]))!;
        Assert.Equal((ExecutionState.Succeeded, 1, "{\"n\":1}", "a"), (done.State, done.AttemptCount, done.ResultJson, done.NodeId));
        Assert.Equal(ExecutionState.Queued, (await store.FindAsync(ids[1]))!.State);
        Assert.Equal((ExecutionState.Running, "b"), ((await store.FindAsync(ids[2]))!.State, (await store.FindAsync(ids[2]))!.NodeId));

        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var attempts = await db.Attempts.AsNoTracking().OrderBy(a => a.ExecutionId).ToListAsync();
        Assert.Equal([(ids[0], 1, ExecutionState.Succeeded, true), (ids[2], 1, ExecutionState.Running, false)],
            attempts.Select(a => (a.ExecutionId, a.Number, a.Outcome, a.FinishedAt is not null)));
        var history = (await store.ChangesAfterAsync(0, 100)).Select(f => f.Change).Where(h => h.Transition != nameof(Transition.Submit))
            .OrderBy(h => h.ExecutionId).ThenBy(h => h.Id).Select(h => (h.ExecutionId, h.Transition, h.From, h.To, h.NodeId)).ToList();
        Assert.Equal([
            (ids[0], nameof(Transition.Claim), (ExecutionState?)ExecutionState.Queued, ExecutionState.Running, (string?)"a"),
            (ids[0], nameof(Transition.Succeed), ExecutionState.Running, ExecutionState.Succeeded, "a"),
            (ids[2], nameof(Transition.Claim), ExecutionState.Queued, ExecutionState.Running, "b"),
        ], history);
    }

    // What the state's effects need comes with the compare-and-set: where a record that enters a queue is sent, whether
    // an external worker's record waits for that worker instead of a job, and which job a record that ends waiting drops.
    [Fact]
    public async Task TheCompareAndSet_AnswersTheRecordsPriorityKindAndJob_OneByOne_AndSetBased()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var at = DateTimeOffset.UtcNow;
        var ids = await store.InsertAsync([
            (Noop with { Priority = 7 }, ExecutionState.Queued),
            (new NewExecution { Kind = ExecutorKind.External, Name = "external.worker", Priority = -3 }, ExecutionState.Pending),
            (Noop with { Priority = 12 }, ExecutionState.Scheduled),
            (new NewExecution { Kind = ExecutorKind.Command, Name = "echo", Command = ["echo"], Priority = 2 }, ExecutionState.Queued),
        ], at, "test");
        await store.SetHangfireJobsAsync([(ids[0], "job-of-first"), (ids[2], "job-of-third")]);

        var claimed = await store.ApplyAsync(new TransitionCommand(ids[0], Transition.Claim) { NodeId = "a" }, at);
        var released = await store.ApplyAsync(new TransitionCommand(ids[1], Transition.Release) { NodeId = "a" }, at);
        var cancelled = await store.ApplyManyAsync(new TransitionCommand(0, Transition.CancelWaiting) { NodeId = "a", Reason = "test" }, [ids[2], ids[3]], at);

        Assert.Equal((true, 7, ExecutorKind.Handler, (string?)"job-of-first"), (claimed.Applied, claimed.Priority, claimed.Kind, claimed.HangfireJobId));
        Assert.Equal((true, -3, ExecutorKind.External, (string?)null), (released.Applied, released.Priority, released.Kind, released.HangfireJobId));
        Assert.Equal([(ids[2], 12, ExecutorKind.Handler, (string?)"job-of-third"), (ids[3], 2, ExecutorKind.Command, null)],
            cancelled.OrderBy(r => r.Id).Select(r => (r.Id, r.Priority, r.Kind, r.HangfireJobId)));
    }

    // A rule may start from several states; whichever one the record is in, the transition applies and its history row
    // says where it came from — also from the last state the rule lists.
    [Fact]
    public async Task ARuleWithSeveralStartingStates_AppliesFromEach_AndRecordsTheOneItCameFrom()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var at = DateTimeOffset.UtcNow;
        var ids = await store.InsertAsync([(Noop, ExecutionState.Scheduled), (Noop, ExecutionState.Queued), (Noop, ExecutionState.Queued)], at, "test");

        var claimedFromScheduled = await store.ApplyAsync(new TransitionCommand(ids[0], Transition.Claim) { NodeId = "a" }, at);
        await store.ApplyAsync(new TransitionCommand(ids[1], Transition.Claim) { NodeId = "a" }, at);
        await store.ApplyAsync(new TransitionCommand(ids[1], Transition.RequestCancel) { NodeId = "a" }, at);
        var succeededWhileCancelling = await store.ApplyAsync(new TransitionCommand(ids[1], Transition.Succeed) { NodeId = "a", ExpectedAttempt = 1 }, at);
        await store.ApplyAsync(new TransitionCommand(ids[2], Transition.Expire) { NodeId = "a" }, at);
        var retriedFromExpired = await store.ApplyAsync(new TransitionCommand(ids[2], Transition.Retry) { NodeId = "a", ActorName = "olivia" }, at);
        var claimedAgainAtTheWrongAttempt = await store.ApplyAsync(new TransitionCommand(ids[0], Transition.Claim) { NodeId = "a", ExpectedAttempt = 0 }, at);

        Assert.Equal((true, (ExecutionState?)ExecutionState.Scheduled, (ExecutionState?)ExecutionState.Running, 1), Describe(claimedFromScheduled));
        Assert.Equal((true, (ExecutionState?)ExecutionState.Cancelling, (ExecutionState?)ExecutionState.Succeeded, 1), Describe(succeededWhileCancelling));
        Assert.Equal((true, (ExecutionState?)ExecutionState.Expired, (ExecutionState?)ExecutionState.Queued, 0), Describe(retriedFromExpired));
        Assert.Equal((false, (ExecutionState?)ExecutionState.Running, (ExecutionState?)null, 1), Describe(claimedAgainAtTheWrongAttempt));
        var history = (await store.ChangesAfterAsync(0, 100)).Select(f => f.Change).Where(h => h.Transition is nameof(Transition.Claim) or nameof(Transition.Succeed) or nameof(Transition.Retry))
            .OrderBy(h => h.Id).Select(h => (h.ExecutionId, h.Transition, h.From, h.To)).ToList();
        Assert.Equal([
            (ids[0], nameof(Transition.Claim), (ExecutionState?)ExecutionState.Scheduled, ExecutionState.Running),
            (ids[1], nameof(Transition.Claim), ExecutionState.Queued, ExecutionState.Running),
            (ids[1], nameof(Transition.Succeed), ExecutionState.Cancelling, ExecutionState.Succeeded),
            (ids[2], nameof(Transition.Retry), ExecutionState.Expired, ExecutionState.Queued),
        ], history);
    }

    [Fact]
    public async Task LogLinesIssuedBeforeAClosingTransition_AreStoredWhenItIs()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var ids = await QueuedAsync(store, 64);
        foreach (var id in ids) await store.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "a" }, DateTimeOffset.UtcNow);
        var at = DateTimeOffset.UtcNow;

        // As the runner does: one write of many attempts' last lines, then each closing transition, without waiting between.
        var lines = store.AppendLogAsync(ids.Select(id => new LogEntry { ExecutionId = id, AttemptNumber = 1, Stream = LogStream.Output, At = at, Text = $"last line of {id}\n" }).ToList());
        var seenAtClose = await Task.WhenAll(ids.Reverse().Select(async id =>
        {
            Assert.True((await store.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { NodeId = "a", ExpectedAttempt = 1 }, DateTimeOffset.UtcNow)).Applied);
            await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
            return (id, await db.LogEntries.AsNoTracking().Where(l => l.ExecutionId == id).Select(l => l.Text).ToListAsync());
        }));
        await lines;

        Assert.All(seenAtClose, seen => Assert.Equal([$"last line of {seen.id}\n"], seen.Item2));
    }

    // On PostgreSQL no foreign key cascades an execution's deletion to these rows (it would check and lock at every
    // write on the hot path): the store's deletes take them, one record at a time and in bulk.
    [Fact]
    public async Task ADeletedExecution_LeavesNoAttemptLogLineOrHistoryBehind_AndItsNeighboursKeepTheirs()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var ids = await QueuedAsync(store, 4);
        foreach (var id in ids)
        {
            await store.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "a" }, DateTimeOffset.UtcNow);
            await store.AppendLogAsync([new LogEntry { ExecutionId = id, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow, Text = "ran\n" }]);
            await store.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { NodeId = "a", ExpectedAttempt = 1 }, DateTimeOffset.UtcNow);
        }

        Assert.True((await store.DeleteTerminalAsync(ids[0])).Deleted);
        Assert.Equal([ids[1], ids[2]], (await store.DeleteTerminalManyAsync([ids[1], ids[2]])).Order());

        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        async Task<(int Attempts, int Lines, int History)> RowsOf(long id) => (
            await db.Attempts.CountAsync(a => a.ExecutionId == id), await db.LogEntries.CountAsync(l => l.ExecutionId == id),
            await db.StateChanges.CountAsync(h => h.ExecutionId == id));
        foreach (var deleted in ids.Take(3)) Assert.Equal((0, 0, 0), await RowsOf(deleted));
        Assert.Equal((1, 1, 3), await RowsOf(ids[3])); // submitted, claimed, succeeded
    }

    protected static (bool, ExecutionState?, ExecutionState?, int) Describe(TransitionResult r) => (r.Applied, r.FoundState, r.NewState, r.AttemptNumber);
}

public sealed class SqliteTransitionStoreTests : TransitionStoreTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() =>
        Task.FromResult(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = $"Data Source={Path.Combine(Path.GetTempPath(), "taskdeck-transitions-" + Guid.NewGuid().ToString("N")[..8] + ".db")}" });

    [Fact]
    public async Task MoreThanOneWriter_IsRefusedOnSqlite_NamingTheSetting()
    {
        var settings = await SettingsAsync();
        settings["Taskdeck:Storage:Writers"] = "2";
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => StorageHost.StartAsync(settings));
        Assert.Contains("Taskdeck:Storage:Writers must be 1 on SQLite", refused.Message);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlTransitionStoreTests(PostgresServer postgres) : TransitionStoreTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() => postgres.StorageSettingsAsync();

    /// <summary>Two stores on one database (two nodes), with <paramref name="queued"/> records queued through the first.</summary>
    private async Task<TwoNodes> TwoNodesAsync(int queued)
    {
        var settings = await SettingsAsync();
        var nodeA = await StorageHost.StartAsync(settings);
        var nodeB = await StorageHost.StartAsync(settings);
        var ids = await QueuedAsync(nodeA.Get<ExecutionStore>(), queued);
        return new TwoNodes(nodeA, nodeB, ids);
    }

    private sealed record TwoNodes(StorageHost NodeA, StorageHost NodeB, IReadOnlyList<long> Ids) : IAsyncDisposable
    {
        public ExecutionStore A => NodeA.Get<ExecutionStore>();
        public ExecutionStore B => NodeB.Get<ExecutionStore>();

        public async ValueTask DisposeAsync()
        {
            await NodeB.DisposeAsync();
            await NodeA.DisposeAsync();
        }
    }

    // Two stores on one database are two nodes: their writers race on the same rows, which only the compare-and-set decides.
    [Fact]
    public async Task TwoStoresRacingToClaimTheSameRecords_EachRecordIsClaimedExactlyOnce()
    {
        await using var nodes = await TwoNodesAsync(queued: 200);
        var (a, b, ids) = (nodes.A, nodes.B, nodes.Ids);

        // Both nodes claim every record at once, several times each (the same id more than once in one batch of one writer).
        var claims = ids.SelectMany(id => new (string Node, ExecutionStore Store)[] { ("a", a), ("b", b), ("a", a), ("b", b) }.Select(n =>
            n.Store.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = n.Node }, DateTimeOffset.UtcNow))).ToList();
        var results = await Task.WhenAll(claims);

        foreach (var group in results.GroupBy(r => r.ExecutionId))
        {
            Assert.Equal(1, group.Count(r => r.Applied));
            Assert.All(group.Where(r => !r.Applied), r => Assert.Equal((ExecutionState.Running, 1), (r.FoundState!.Value, r.AttemptNumber)));
        }
        await using var db = await nodes.NodeA.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        Assert.Equal(ids.Count, await db.Attempts.CountAsync());
        Assert.Equal(ids.Count, await db.StateChanges.CountAsync(s => s.Transition == nameof(Transition.Claim)));
        // The winner recorded on the record is the node whose claim applied.
        var winners = results.Where(r => r.Applied).ToDictionary(r => r.ExecutionId);
        var claimedBy = await db.StateChanges.AsNoTracking().Where(s => s.Transition == nameof(Transition.Claim)).ToDictionaryAsync(s => s.ExecutionId, s => s.NodeId);
        var records = await db.Executions.AsNoTracking().ToDictionaryAsync(e => e.Id, e => (e.State, e.AttemptCount, e.NodeId));
        Assert.All(ids, id => Assert.Equal((ExecutionState.Running, 1, claimedBy[id]), records[id]));
        Assert.Equal(ids.Count, winners.Count);
    }

    // A dispatch notes its jobs on the records while another node's worker, which fetched the job at once, claims one of
    // them in a transaction still open: the note must not wait for that row (both sides waiting on each other's rows was
    // a deadlock), and the claim names the job it runs in itself.
    [Fact]
    public async Task ADispatchNotingItsJobs_SkipsARecordAnotherNodeIsClaiming_WhoseClaimNamesTheJob()
    {
        await using var nodes = await TwoNodesAsync(queued: 3);
        var ids = nodes.Ids;
        await using var otherNode = await nodes.NodeB.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        await using (var claiming = await otherNode.Database.BeginTransactionAsync())
        {
            await otherNode.Database.ExecuteSqlAsync($"SELECT 1 FROM \"Executions\" WHERE \"Id\" = {ids[1]} FOR UPDATE");

            var noted = nodes.A.SetHangfireJobsAsync(ids.Select(id => (id, "job-7")).ToList());
            Assert.Same(noted, await Task.WhenAny(noted, Task.Delay(TimeSpan.FromSeconds(10))));
            await noted;
            await claiming.RollbackAsync();
        }
        Assert.Null((await nodes.A.FindAsync(ids[1]))!.HangfireJobId);

        var claimed = await nodes.B.ApplyAsync(new TransitionCommand(ids[1], Transition.Claim) { NodeId = "b", HangfireJobId = "job-7" }, DateTimeOffset.UtcNow);
        Assert.True(claimed.Applied);
        await using var db = await nodes.NodeA.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var jobs = await db.Executions.AsNoTracking().ToDictionaryAsync(e => e.Id, e => e.HangfireJobId);
        Assert.Equal(["job-7", "job-7", "job-7"], ids.Select(id => jobs[id]));
    }

    [Fact]
    public async Task ACancelRacingCompletionOnAnotherNode_LosesNothing()
    {
        await using var nodes = await TwoNodesAsync(queued: 200);
        var (a, b, ids) = (nodes.A, nodes.B, nodes.Ids);
        foreach (var id in ids) Assert.True((await a.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "a" }, DateTimeOffset.UtcNow)).Applied);

        // Node A finishes every attempt while an operator on node B cancels each of them.
        var succeed = ids.Select(id => a.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { NodeId = "a", ExpectedAttempt = 1 }, DateTimeOffset.UtcNow)).ToList();
        var cancel = ids.Select(id => b.ApplyAsync(new TransitionCommand(id, Transition.RequestCancel) { NodeId = "b", ActorName = "olivia" }, DateTimeOffset.UtcNow)).ToList();
        var succeeded = await Task.WhenAll(succeed);
        var cancelled = await Task.WhenAll(cancel);

        await using var db = await nodes.NodeA.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var history = (await db.StateChanges.AsNoTracking().ToListAsync()).ToLookup(s => s.ExecutionId);
        var attempts = (await db.Attempts.AsNoTracking().ToListAsync()).ToDictionary(t => t.ExecutionId);
        for (var i = 0; i < ids.Count; i++)
        {
            // Succeed starts from Running and from Cancelling: the result is real, so it always applies — from whichever
            // state the cancel left; the cancel applies only if it came first, and then its row says so.
            Assert.True(succeeded[i].Applied);
            var expectedFrom = cancelled[i].Applied ? ExecutionState.Cancelling : ExecutionState.Running;
            Assert.Equal(expectedFrom, succeeded[i].FoundState);
            if (!cancelled[i].Applied) Assert.Equal(ExecutionState.Succeeded, cancelled[i].FoundState);
            var rows = history[ids[i]].Where(h => h.Transition != nameof(Transition.Submit)).OrderBy(h => h.Id).Select(h => (h.Transition, h.From, h.To)).ToList();
            Assert.Equal(cancelled[i].Applied
                ? [(nameof(Transition.Claim), ExecutionState.Queued, ExecutionState.Running), (nameof(Transition.RequestCancel), ExecutionState.Running, ExecutionState.Cancelling),
                   (nameof(Transition.Succeed), ExecutionState.Cancelling, ExecutionState.Succeeded)]
                : new List<(string, ExecutionState?, ExecutionState)> { (nameof(Transition.Claim), ExecutionState.Queued, ExecutionState.Running),
                   (nameof(Transition.Succeed), ExecutionState.Running, ExecutionState.Succeeded) }, rows);
            Assert.Equal((1, ExecutionState.Succeeded, true), (attempts[ids[i]].Number, attempts[ids[i]].Outcome, attempts[ids[i]].FinishedAt is not null));
        }
        Assert.Equal(ids.Count, await db.Executions.CountAsync(e => e.State == ExecutionState.Succeeded));
    }

    /// <summary>
    /// Holds the store's (one) writer in a transaction of its own until <c>release</c> completes, so that everything issued
    /// meanwhile is gathered into the writer's next batch.
    /// </summary>
    private static async Task<TaskCompletionSource> HoldTheWriterAsync(StorageHost storage)
    {
        var writes = storage.Get<WriteQueue>();
        Assert.Equal(1, writes.Writers);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = writes.RunAsync(async (_, _) => { held.SetResult(); await release.Task; return 0; });
        await held.Task;
        return release;
    }

    // A batch's transitions of one kind on distinct executions travel as one statement over arrays (the statement's fixed
    // cost on the server paid once, not once per execution). One execution's claim and its close in the same batch are
    // still two statements, in the order issued; whatever shares a statement, each command answers its own record.
    [Fact]
    public async Task ABatchsClaimsAndClosesOfDistinctExecutions_TravelAsOneStatementEach_InEachExecutionsOrder()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var queued = await QueuedAsync(store, 41);
        var (ids, alreadyRunning) = (queued.Take(40).ToList(), queued[^1]);
        await store.ApplyAsync(new TransitionCommand(alreadyRunning, Transition.Claim) { NodeId = "a" }, DateTimeOffset.UtcNow);
        var sentTogetherBefore = storage.Get<WriteQueue>().MembersSentTogether;
        var at = DateTimeOffset.UtcNow;
        var release = await HoldTheWriterAsync(storage);

        // A close comes first (its statement is the batch's first of its kind); then every record is claimed, and the first
        // twenty each succeed right after their claim, claims and closes interleaved, each close after its last log line
        // (as the runner writes them: the lines do not split the closes' statement).
        var closes = new List<Task<TransitionResult>> { store.ApplyAsync(new TransitionCommand(alreadyRunning, Transition.Succeed) { NodeId = "a", ExpectedAttempt = 1 }, at) };
        var claims = new List<Task<TransitionResult>>();
        var lines = new List<Task>();
        for (var i = 0; i < ids.Count; i++)
        {
            claims.Add(store.ApplyAsync(new TransitionCommand(ids[i], Transition.Claim) { NodeId = "a", HangfireJobId = $"job-{ids[i]}" }, at));
            if (i is >= 1 and <= 20)
                lines.Add(store.AppendLogAsync([new LogEntry { ExecutionId = ids[i - 1], AttemptNumber = 1, Stream = LogStream.Output, At = at, Text = $"done {i - 1}\n" }]));
            if (i is >= 1 and <= 20)
                closes.Add(store.ApplyAsync(new TransitionCommand(ids[i - 1], Transition.Succeed) { NodeId = "a", ExpectedAttempt = 1, ResultJson = $"{{\"n\":{i - 1}}}" }, at));
        }
        var missing = store.ApplyAsync(new TransitionCommand(ids[^1] + 1_000, Transition.Claim) { NodeId = "a" }, at);
        var cancels = ids.Skip(30).Take(2).Select(id => store.ApplyAsync(new TransitionCommand(id, Transition.RequestCancel) { NodeId = "a", ActorName = "olivia" }, at)).ToList();
        var wrongAttempt = store.ApplyAsync(new TransitionCommand(ids[^1], Transition.Fail) { NodeId = "a", ExpectedAttempt = 7, ErrorMessage = "no" }, at);
        release.SetResult();

        Assert.All(await Task.WhenAll(claims), claimed => Assert.Equal((true, (ExecutionState?)ExecutionState.Queued, (ExecutionState?)ExecutionState.Running, 1), Describe(claimed)));
        Assert.Equal([alreadyRunning, .. ids.Take(20)], (await Task.WhenAll(closes)).Select(closed =>
        {
            Assert.Equal((true, (ExecutionState?)ExecutionState.Running, (ExecutionState?)ExecutionState.Succeeded, 1), Describe(closed));
            return closed.ExecutionId;
        }));
        Assert.Equal((false, (ExecutionState?)null, (ExecutionState?)null, 0), Describe(await missing));
        Assert.All(await Task.WhenAll(cancels), cancelled => Assert.Equal((true, (ExecutionState?)ExecutionState.Running, (ExecutionState?)ExecutionState.Cancelling, 1), Describe(cancelled)));
        Assert.Equal((false, (ExecutionState?)ExecutionState.Running, (ExecutionState?)null, 1), Describe(await wrongAttempt));
        await Task.WhenAll(lines);
        // 41 claims, 20 closes after their claims, 2 cancels, and the 20 log flushes (order-free: one statement whatever
        // their executions' turns). The first close went alone (it follows nothing of its own record, so it is in the
        // batch's first layer, where no other close is), as did the lone failure.
        Assert.Equal(83, storage.Get<WriteQueue>().MembersSentTogether - sentTogetherBefore);

        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var records = await db.Executions.AsNoTracking().Where(e => ids.Contains(e.Id)).ToDictionaryAsync(e => e.Id);
        for (var i = 0; i < ids.Count; i++)
        {
            var expected = i < 20 ? ExecutionState.Succeeded : i is 30 or 31 ? ExecutionState.Cancelling : ExecutionState.Running;
            Assert.Equal((expected, 1, "a", $"job-{ids[i]}", i < 20 ? $"{{\"n\":{i}}}" : null),
                (records[ids[i]].State, records[ids[i]].AttemptCount, records[ids[i]].NodeId, records[ids[i]].HangfireJobId, records[ids[i]].ResultJson));
        }
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (ids[i], $"done {i}\n")),
            (await db.LogEntries.AsNoTracking().Where(l => ids.Contains(l.ExecutionId)).OrderBy(l => l.ExecutionId).ToListAsync()).Select(l => (l.ExecutionId, l.Text)));
        var attempts = await db.Attempts.AsNoTracking().Where(a => ids.Contains(a.ExecutionId)).ToDictionaryAsync(a => a.ExecutionId);
        Assert.Equal(ids.Select((_, i) => (1, i < 20 ? ExecutionState.Succeeded : ExecutionState.Running, i < 20)),
            ids.Select(id => (attempts[id].Number, attempts[id].Outcome, attempts[id].FinishedAt is not null)));
        var history = (await db.StateChanges.AsNoTracking().Where(h => ids.Contains(h.ExecutionId) && h.Transition != nameof(Transition.Submit)).ToListAsync())
            .ToLookup(h => h.ExecutionId);
        for (var i = 0; i < ids.Count; i++)
        {
            var rows = history[ids[i]].OrderBy(h => h.Id).Select(h => (h.Transition, h.From, h.To, h.AttemptNumber, h.ActorName)).ToList();
            List<(string, ExecutionState?, ExecutionState, int?, string?)> claimed = [(nameof(Transition.Claim), ExecutionState.Queued, ExecutionState.Running, 1, null)];
            if (i < 20) claimed.Add((nameof(Transition.Succeed), ExecutionState.Running, ExecutionState.Succeeded, 1, null));
            if (i is 30 or 31) claimed.Add((nameof(Transition.RequestCancel), ExecutionState.Running, ExecutionState.Cancelling, 1, "olivia"));
            Assert.Equal(claimed, rows);
        }
    }

    // Log flushes gathered in one commit are one insert, whatever their executions — one execution's two flushes among
    // them — and each execution's lines keep the order they were flushed in.
    [Fact]
    public async Task LogFlushesInOneCommit_AreOneStatement_AndKeepEachExecutionsLinesInOrder()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var ids = await QueuedAsync(store, 3);
        var at = DateTimeOffset.UtcNow;
        LogEntry Line(long id, string text) => new() { ExecutionId = id, AttemptNumber = 1, Stream = LogStream.Output, At = at, Text = text };
        var sentTogetherBefore = storage.Get<WriteQueue>().MembersSentTogether;
        var release = await HoldTheWriterAsync(storage);

        var flushes = new[]
        {
            store.AppendLogAsync([Line(ids[0], "a1\n"), Line(ids[1], "b1\n")]),
            store.AppendLogAsync([Line(ids[2], "c1\n")]),
            store.AppendLogAsync([Line(ids[0], "a2\n"), Line(ids[0], "a3\n")]),
            store.AppendLogAsync([Line(ids[1], "b2\n")]),
        };
        release.SetResult();
        await Task.WhenAll(flushes);

        Assert.Equal(4, storage.Get<WriteQueue>().MembersSentTogether - sentTogetherBefore);
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var lines = await db.LogEntries.AsNoTracking().Where(l => ids.Contains(l.ExecutionId)).OrderBy(l => l.Id).ToListAsync();
        Assert.Equal(["a1\n", "a2\n", "a3\n"], lines.Where(l => l.ExecutionId == ids[0]).Select(l => l.Text));
        Assert.Equal(["b1\n", "b2\n"], lines.Where(l => l.ExecutionId == ids[1]).Select(l => l.Text));
        Assert.Equal(["c1\n"], lines.Where(l => l.ExecutionId == ids[2]).Select(l => l.Text));
    }

    // The values only some transitions carry go through the arrays too, nulls among them: a retry's due time and error, a
    // failure's exit code and error on its attempt.
    [Fact]
    public async Task RetriesAndFailuresSharingAStatement_EachKeepTheirOwnDueTimeExitCodeAndError()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var ids = await QueuedAsync(store, 4);
        foreach (var id in ids) await store.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "a" }, DateTimeOffset.UtcNow);
        var at = DateTimeOffset.UtcNow;
        var due = DateTimeOffset.FromUnixTimeMilliseconds(at.AddMinutes(5).ToUnixTimeMilliseconds()); // as stored: whole microseconds
        var sentTogetherBefore = storage.Get<WriteQueue>().MembersSentTogether;
        var release = await HoldTheWriterAsync(storage);

        var retries = new[]
        {
            store.ApplyAsync(new TransitionCommand(ids[0], Transition.RetryLater) { NodeId = "a", ExpectedAttempt = 1, RunAt = due, ErrorMessage = "flaky", Rc = 1 }, at),
            store.ApplyAsync(new TransitionCommand(ids[1], Transition.RetryLater) { NodeId = "a", ExpectedAttempt = 1, RunAt = null, ErrorMessage = null }, at),
        };
        var failures = new[]
        {
            store.ApplyAsync(new TransitionCommand(ids[2], Transition.Fail) { NodeId = "a", ExpectedAttempt = 1, ErrorMessage = "boom", Rc = 3 }, at),
            store.ApplyAsync(new TransitionCommand(ids[3], Transition.Fail) { NodeId = "a", ExpectedAttempt = 1, Reason = "no result" }, at),
        };
        release.SetResult();

        Assert.All(await Task.WhenAll(retries.Concat(failures)), r => Assert.True(r.Applied));
        Assert.Equal(4, storage.Get<WriteQueue>().MembersSentTogether - sentTogetherBefore);
        var records = await Task.WhenAll(ids.Select(async id => (await store.FindAsync(id))!));
        Assert.Equal([(ExecutionState.Scheduled, (DateTimeOffset?)due, (string?)"flaky"), (ExecutionState.Scheduled, null, null),
                      (ExecutionState.Failed, null, "boom"), (ExecutionState.Failed, null, "no result")],
            records.Select(r => (r.State, r.RunAt, r.ErrorMessage)));
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var attempts = await db.Attempts.AsNoTracking().Where(a => ids.Contains(a.ExecutionId)).ToDictionaryAsync(a => a.ExecutionId);
        Assert.Equal([(ExecutionState.Failed, (int?)1, (string?)"flaky"), (ExecutionState.Failed, null, null), (ExecutionState.Failed, 3, "boom"), (ExecutionState.Failed, null, "no result")],
            ids.Select(id => (attempts[id].Outcome, attempts[id].Rc, attempts[id].Error)));
    }

    // A statement shared by a batch's claims fails as a whole when one member is refused (here a job id longer than its
    // column): the batch is run again item by item, and only that member fails.
    [Fact]
    public async Task AMemberTheDatabaseRefuses_FailsAlone_AndTheClaimsSharingItsStatementApply()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var ids = await QueuedAsync(store, 5);
        var release = await HoldTheWriterAsync(storage);

        var claims = ids.Select((id, i) => store.ApplyAsync(
            new TransitionCommand(id, Transition.Claim) { NodeId = "a", HangfireJobId = i == 2 ? new string('j', 101) : $"job-{id}" }, DateTimeOffset.UtcNow)).ToList();
        release.SetResult();

        await Assert.ThrowsAnyAsync<Exception>(() => claims[2]);
        foreach (var i in new[] { 0, 1, 3, 4 }) Assert.True((await claims[i]).Applied);
        Assert.Equal([ExecutionState.Running, ExecutionState.Running, ExecutionState.Queued, ExecutionState.Running, ExecutionState.Running],
            await Task.WhenAll(ids.Select(async id => (await store.FindAsync(id))!.State)));
    }

    // Each foreign key check is a query of its own that also locks the execution's new row version: about a tenth of the
    // server's CPU per execution (BENCHMARKS.md, session 25). The rows every run writes carry none on PostgreSQL.
    [Fact]
    public async Task TheRowsEveryRunWrites_CarryNoForeignKeyCheck_OnPostgreSql()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var checkedTables = await db.Database.SqlQueryRaw<string>(
            "SELECT c.conrelid::regclass::text AS \"Value\" FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = '\"Executions\"'::regclass").ToListAsync();

        Assert.Equal(["\"WorkTasks\""], checkedTables); // a work task's row is written once, at its submission
    }

    [Fact]
    public async Task ThePostgreSqlStore_HasOneWriter_UnlessTheOperatorAsksForMore()
    {
        await using (var storage = await StorageHost.StartAsync(await SettingsAsync()))
            Assert.Equal(1, storage.Get<WriteQueue>().Writers);
        var settings = await SettingsAsync();
        settings["Taskdeck:Storage:Writers"] = "4";
        await using (var storage = await StorageHost.StartAsync(settings))
            Assert.Equal(4, storage.Get<WriteQueue>().Writers);
    }
}

/// <summary>
/// The same transitions on four parallel writers, as an operator may configure (<c>Taskdeck:Storage:Writers</c>): one
/// execution's writes on one writer, other executions' committing beside them, the nodes racing as before.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlParallelWritersTransitionStoreTests(PostgresServer postgres) : TransitionStoreTests
{
    protected override async Task<Dictionary<string, string?>> SettingsAsync()
    {
        var settings = await postgres.StorageSettingsAsync();
        settings["Taskdeck:Storage:Writers"] = "4";
        return settings;
    }
}
