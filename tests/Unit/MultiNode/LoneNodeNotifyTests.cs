using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Changes;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// A node alone on a PostgreSQL database notifies nobody of its state changes (nobody else listens, and every notifying
/// commit takes the server's notify-queue lock); another node's lease or its hello turns the notifies back on.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LoneNodeNotifyTests(PostgresServer postgres)
{
    private static Task<StorageHost> StorageAsync(string connection) => StorageHost.StartAsync(new Dictionary<string, string?>
    {
        ["Taskdeck:Storage:Provider"] = "PostgreSql",
        ["ConnectionStrings:Taskdeck"] = connection,
    });

    [Fact]
    public async Task WhileAlone_AWritersStateChangesNotifyNobody_AndOnceAnotherNodeIsHeard_TheNextOnesDo()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var storage = await StorageAsync(connection);
        var store = storage.Get<ExecutionStore>();
        var wake = storage.Get<WakeOtherNodes>();
        var ids = await store.InsertAsync(
            [(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued),
             (new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)], DateTimeOffset.UtcNow, "node-a");
        var heard = new List<string>();
        await using var listener = new NpgsqlConnection(connection);
        listener.Notification += (_, e) => { lock (heard) heard.Add(e.Payload); };
        await listener.OpenAsync();
        await using (var listen = new NpgsqlCommand($"LISTEN {PostgreSqlChangeSignal.Channel}", listener)) await listen.ExecuteNonQueryAsync();

        Assert.False(wake.Decide(anotherNodeLive: false));
        Assert.True((await store.ApplyAsync(new TransitionCommand(ids[0], Transition.Claim) { NodeId = "node-alone" }, DateTimeOffset.UtcNow)).Applied);
        wake.HeardFrom();
        Assert.True((await store.ApplyAsync(new TransitionCommand(ids[1], Transition.Claim) { NodeId = "node-heard" }, DateTimeOffset.UtcNow)).Applied);

        // One session receives notifies in commit order: once the second claim's has come, the first one's would have.
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (true)
        {
            await listener.WaitAsync(TimeSpan.FromMilliseconds(200));
            lock (heard) if (heard.Contains("node-heard")) break;
            if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException("The claim written after the hello notified nobody.");
        }
        lock (heard) Assert.Equal(["node-heard"], heard);
    }

    [Fact]
    public async Task TheWatch_FindsTheNodeAloneFromTheLeases_AndAnotherLiveLease_OrItsHello_MakesItNotifyAgain()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var storage = await StorageAsync(connection);
        var store = storage.Get<ExecutionStore>();
        var options = Options.Create(new TaskdeckOptions { Node = { Name = "lone" }, Leases = { ExpirySeconds = 30 } });
        var self = new NodeIdentity(options);
        var wake = new WakeOtherNodes(options, TimeProvider.System);
        await store.HeartbeatAsync(Lease(self.Id, DateTimeOffset.UtcNow));
        // A node that stopped, and one whose lease ran out long ago: neither listens.
        await store.HeartbeatAsync(Lease("gone:1:aaaaaa", DateTimeOffset.UtcNow, stopped: true));
        await store.HeartbeatAsync(Lease("dead:2:bbbbbb", DateTimeOffset.UtcNow.AddMinutes(-5)));
        using var watch = new LoneNodeWatch(wake, store, self, options, TimeProvider.System, NullLogger<LoneNodeWatch>.Instance);

        Assert.True(wake.Needed);
        await watch.StartAsync(CancellationToken.None);
        await ChangeNotifyTests.Until(() => !wake.Needed, "the watch to find the node alone");

        await store.HeartbeatAsync(Lease("other:3:cccccc", DateTimeOffset.UtcNow));
        await ChangeNotifyTests.Until(() => wake.Needed, "the watch to see the other node's live lease", 10);
        await store.HeartbeatAsync(Lease("other:3:cccccc", DateTimeOffset.UtcNow, stopped: true));
        await ChangeNotifyTests.Until(() => !wake.Needed, "the watch to see the other node stopped", 10);

        // A node starting: its hello turns the notifies on at once, and holds them though no lease of its is read yet.
        var events = new ExecutionEvents();
        using var ownSignal = new PostgreSqlChangeSignal(storage.Get<TaskdeckDatabase>(), self, events, TimeProvider.System,
            NullLogger<PostgreSqlChangeSignal>.Instance, wake);
        await ownSignal.StartAsync(CancellationToken.None);
        await ChangeNotifyTests.Until(() => ownSignal.IsListening, "this node's listener");
        // Its own hello is not another node's.
        await Task.Delay(500);
        Assert.False(wake.Needed);
        var newcomer = new NodeIdentity(Options.Create(new TaskdeckOptions { Node = { Name = "newcomer" } }));
        using var newcomerSignal = new PostgreSqlChangeSignal(storage.Get<TaskdeckDatabase>(), newcomer, events, TimeProvider.System,
            NullLogger<PostgreSqlChangeSignal>.Instance);
        await newcomerSignal.StartAsync(CancellationToken.None);
        await ChangeNotifyTests.Until(() => wake.Needed, "the newcomer's hello", 10);
        await Task.Delay(LoneNodeWatch.CheckInterval * 2);
        Assert.True(wake.Needed);

        await watch.StopAsync(CancellationToken.None);
        await ownSignal.StopAsync(CancellationToken.None);
        await newcomerSignal.StopAsync(CancellationToken.None);
    }

    private static WorkerNode Lease(string id, DateTimeOffset heartbeat, bool stopped = false) => new()
    {
        Id = id, HostName = "test", ProcessId = 1, Roles = "all", StartedAt = heartbeat, HeartbeatAt = heartbeat,
        StoppedAt = stopped ? heartbeat : null,
    };
}
