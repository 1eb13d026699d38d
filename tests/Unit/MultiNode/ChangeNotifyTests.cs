using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Changes;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// PostgreSQL's LISTEN/NOTIFY wakes another node's change follower when a change commits. The follower under test polls
/// every 10 minutes, so within these tests' waits only a notify can bring it a change.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ChangeNotifyTests(PostgresServer postgres)
{
    [Fact]
    public async Task ACancelCommittedOnNodeA_WakesNodeBsFollower_AndStopsTheWorkThere_WhileBsOwnChangesWakeNothing()
    {
        await using var b = await TestNode.StartAsync(await postgres.CreateDatabaseAsync());
        var id = await b.InsertAsync();
        await b.UntilReadyAsync();

        // B claims it (its own change: the notify names B, B's listener lets it pass) and runs it.
        await b.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = b.Node.Id });
        var work = b.Running.Register(id, 1, CancellationToken.None);
        // An operator on node A cancels it.
        await b.ApplyAsync(new TransitionCommand(id, Transition.RequestCancel) { NodeId = NodeA });

        await Until(() => b.Seen(id, ExecutionState.Cancelling, NodeA), "A's cancel to reach B's event stream");
        await Until(() => work.Source.IsCancellationRequested, "the cancel to reach the work running on B");
        Assert.True(work.CancelRequested);
        // One wake-up: A's notify. B's claim notified too, naming B, and its listener let it pass.
        await Until(() => b.Signal.WakeUps >= 1, "the notify to be counted");
        Assert.Equal(1, b.Signal.WakeUps);
        // Published once, though the passes after it ask again for every id a cursor jumped over (late commits).
        Assert.Single(b.Published, s => s.ExecutionId == id && s.To == ExecutionState.Cancelling);
    }

    [Fact]
    public async Task AProgressReportAndAWorkersStart_OnNodeA_ArePublishedOnNodeB_AndNotEchoedBackToA()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var a = await TestNode.StartAsync(connection, "node-a");
        await using var b = await TestNode.StartAsync(connection);
        var id = await a.InsertAsync();
        await a.UntilReadyAsync();
        await b.UntilReadyAsync();

        // What A's runner and work-task service hand to the broadcast after publishing them on A.
        var at = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        a.Broadcast.Broadcast(new ProgressChanged(id, at, 0.5, "half way"));
        a.Broadcast.Broadcast(new WorkerStartReported(id, at, 1));
        a.Broadcast.Broadcast(new WorkerProgressReported(id, at, 1));
        a.Broadcast.Broadcast(new ProgressChanged(id, at, 0.75, new string('x', 20_000)));

        await Until(() => b.Heard.OfType<WorkerStartReported>().Any() && b.Heard.OfType<ProgressChanged>().Count() == 2, "A's events to reach B");
        var heard = b.Heard.Where(e => e is not StateChanged).ToList();
        Assert.Equal(new ProgressChanged(id, at, 0.5, "half way"), heard[0]);
        Assert.Equal(new WorkerStartReported(id, at, 1), heard[1]);
        Assert.Equal(new WorkerProgressReported(id, at, 1), heard[2]);
        var cut = Assert.IsType<ProgressChanged>(heard[3]);
        Assert.Equal(0.75, cut.Progress);
        Assert.InRange(cut.Message!.Length, 1000, 7900);

        // B's own event goes to A; A heard its own first (one connection delivers in commit order) and dropped them.
        b.Broadcast.Broadcast(new ProgressChanged(id, at, 0.9, "from b"));
        await Until(() => a.Heard.OfType<ProgressChanged>().Any(), "B's event to reach A");
        Assert.Equal(new ExecutionEvent[] { new ProgressChanged(id, at, 0.9, "from b") }, a.Heard.Where(e => e is not StateChanged));
        Assert.Equal(4, b.Heard.Count(e => e is not StateChanged));
    }

    internal const string NodeA = "node-a:1:aaaaaa";

    internal static async Task Until(Func<bool> condition, string what, int seconds = 60)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException($"Waited {seconds} s for {what}.");
            await Task.Delay(20);
        }
    }

    /// <summary>A node: its storage, its change listener and event broadcast, and its follower (polling every 10 minutes) with the cancel relay.</summary>
    internal sealed class TestNode : IAsyncDisposable
    {
        private readonly StorageHost _storage;
        private readonly List<ExecutionEvent> _published = [];
        private readonly IDisposable _subscription;

        private TestNode(StorageHost storage, string name)
        {
            _storage = storage;
            Store = storage.Get<ExecutionStore>();
            Node = new NodeIdentity(Options.Create(new TaskdeckOptions { Node = { Name = name } }));
            var events = new ExecutionEvents();
            Signal = new PostgreSqlChangeSignal(storage.Get<TaskdeckDatabase>(), Node, events, TimeProvider.System, NullLogger<PostgreSqlChangeSignal>.Instance);
            Broadcast = new PostgreSqlEventBroadcast(storage.Get<TaskdeckDatabase>(), Node, TimeProvider.System, NullLogger<PostgreSqlEventBroadcast>.Instance);
            _subscription = events.Subscribe(e => { lock (_published) _published.Add(e); });
            var options = Options.Create(new TaskdeckOptions { Storage = { Provider = StorageProvider.PostgreSql, ChangePollMilliseconds = 600_000 } });
            Follower = new ChangeFollower(Store, events, [new RemoteCancelRelay(Store, Running, Node)], Node, Signal, options, TimeProvider.System,
                NullLogger<ChangeFollower>.Instance);
        }

        public ExecutionStore Store { get; }
        public NodeIdentity Node { get; }
        public PostgreSqlChangeSignal Signal { get; }
        public ChangeFollower Follower { get; }
        public PostgreSqlEventBroadcast Broadcast { get; }
        public RunningWork Running { get; } = new();

        public IReadOnlyList<StateChanged> Published => Heard.OfType<StateChanged>().ToList();

        /// <summary>Everything published on this node's event stream.</summary>
        public IReadOnlyList<ExecutionEvent> Heard { get { lock (_published) return [.. _published]; } }

        public bool Seen(long id, ExecutionState to, string nodeId) => Published.Any(s => s.ExecutionId == id && s.To == to && s.NodeId == nodeId);

        public static async Task<TestNode> StartAsync(string connection, string name = "node-b") =>
            new(await StorageHost.StartAsync(new Dictionary<string, string?>
            {
                ["Taskdeck:Storage:Provider"] = "PostgreSql",
                ["ConnectionStrings:Taskdeck"] = connection,
            }), name);

        /// <summary>An execution submitted on node A, before B listens.</summary>
        public async Task<long> InsertAsync() =>
            (await Store.InsertAsync([(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)], DateTimeOffset.UtcNow, NodeA))[0];

        /// <summary>
        /// Starts the listener and the follower, and waits for the pass that the listener's connection wakes (what committed
        /// while nothing listened): after it, only a notify or the 10-minute poll wakes the follower.
        /// </summary>
        public async Task UntilReadyAsync()
        {
            await Signal.StartAsync(CancellationToken.None);
            await Broadcast.StartAsync(CancellationToken.None);
            await Follower.StartAsync(CancellationToken.None);
            await UntilCaughtUpSinceListeningAsync(1);
        }

        public async Task UntilCaughtUpSinceListeningAsync(int connections)
        {
            await Until(() => Signal.IsListening && Signal.Connections >= connections, $"the listener to connect ({connections})", 120);
            var listening = Signal.ListeningSince!.Value;
            await Until(() => Follower.CaughtUpAt > listening, "the follower's pass after the listener connected");
        }

        /// <summary>A transition as any node writes it (the store writes the history row the trigger notifies about).</summary>
        public async Task ApplyAsync(TransitionCommand command)
        {
            // Right after a server restart the first statements on pooled connections fail: try again, as a node would.
            var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    Assert.True((await Store.ApplyAsync(command, DateTimeOffset.UtcNow)).Applied, $"{command.Transition} by {command.NodeId}");
                    return;
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException && DateTimeOffset.UtcNow < deadline)
                {
                    await Task.Delay(200);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Follower.StopAsync(CancellationToken.None);
            await Broadcast.StopAsync(CancellationToken.None);
            await Signal.StopAsync(CancellationToken.None);
            Follower.Dispose();
            Broadcast.Dispose();
            Signal.Dispose();
            _subscription.Dispose();
            await _storage.DisposeAsync();
        }
    }
}

/// <summary>
/// <c>pg_ctl restart -m fast</c> ends the listener's session: it reconnects with back-off and notifies wake the follower
/// again. Its own server, so the restart disturbs no other test.
/// </summary>
public sealed class ChangeNotifyRestartTests : IAsyncLifetime
{
    private readonly PostgresServer _postgres = new();

    public Task InitializeAsync() => _postgres.InitializeAsync();
    public Task DisposeAsync() => _postgres.DisposeAsync();

    [Fact]
    public async Task AfterThePostgreSqlServerRestarts_TheListenerReconnects_AndAChangeOnNodeAWakesNodeBsFollowerAgain()
    {
        await using var b = await ChangeNotifyTests.TestNode.StartAsync(await _postgres.CreateDatabaseAsync());
        var id = await b.InsertAsync();
        await b.UntilReadyAsync();

        await _postgres.RestartFastAsync();
        await b.UntilCaughtUpSinceListeningAsync(2);
        Assert.Equal(0, b.Signal.WakeUps);

        await b.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = ChangeNotifyTests.NodeA });
        await ChangeNotifyTests.Until(() => b.Seen(id, ExecutionState.Running, ChangeNotifyTests.NodeA), "A's claim to reach B's event stream");
        await ChangeNotifyTests.Until(() => b.Signal.WakeUps >= 1, "the notify to be counted");
    }
}
