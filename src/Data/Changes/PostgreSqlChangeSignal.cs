using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Taskdeck.Core.Events;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Changes;

/// <summary>
/// Wakes this node's change follower when another node commits state changes: a dedicated connection LISTENs on the
/// channel that the <c>StateChanges</c> table's statement trigger notifies (migration <c>StateChangesNotify</c>), and
/// reconnects with back-off when the server goes away (a restart ends every session).
/// </summary>
/// <remarks>
/// The trigger's payload is the distinct node ids of the rows a statement inserted: a payload that is exactly this node's
/// id is its own writes and wakes nothing, so a busy node alone on the database pays no follower passes for its own work.
/// Whatever committed while the connection was down is picked up by the pass that every (re)connection wakes.
/// The same connection hears <see cref="NodeEventPayload.Channel"/>: other nodes' progress reports and spawned workers'
/// starts (<see cref="PostgreSqlEventBroadcast"/>), which it publishes on this node's <see cref="ExecutionEvents"/>.
/// </remarks>
public sealed class PostgreSqlChangeSignal(TaskdeckDatabase database, NodeIdentity node, ExecutionEvents events, TimeProvider time,
    ILogger<PostgreSqlChangeSignal> logger, WakeOtherNodes? wake = null)
    : BackgroundService, IChangeSignal
{
    /// <summary>The channel the trigger notifies (lower case: LISTEN folds an unquoted name).</summary>
    public const string Channel = "taskdeck_state_changes";

    /// <summary>
    /// What a node says on <see cref="Channel"/> once it listens, before its id: a node that believed itself alone on the
    /// database and let its writes notify nobody (<see cref="WakeOtherNodes"/>) notifies again from its next write.
    /// </summary>
    public const string HelloPrefix = "hello:";

    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Lock _gate = new();
    private int _connections;
    private long _wakeUps;
    private long _remoteEvents;
    private volatile bool _listening;

    /// <summary>How many times the listener has connected and LISTENed (more than one: it reconnected).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>True while a connection LISTENs.</summary>
    public bool IsListening => _listening;

    /// <summary>When the current (or last) connection started to LISTEN.</summary>
    public DateTimeOffset? ListeningSince { get; private set; }

    /// <summary>Notifies from other nodes received so far.</summary>
    public long WakeUps => Interlocked.Read(ref _wakeUps);

    /// <summary>Other nodes' progress reports and starts republished here so far.</summary>
    public long RemoteEvents => Interlocked.Read(ref _remoteEvents);

    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct) => await _wake.WaitAsync(timeout, ct);

    private void Wake()
    {
        lock (_gate)
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            // Its own physical connection: a LISTENing session must not go back to a pool.
            Pooling = false,
            ApplicationName = "taskdeck change listener",
        };
        // A half-open connection (the server gone without a word) is found by the keepalive, not by the next notify.
        if (builder.KeepAlive == 0) builder.KeepAlive = 30;
        var retry = FirstRetry;
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                connection.Notification += OnNotification;
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}; LISTEN {NodeEventPayload.Channel}; SELECT pg_notify('{Channel}', @hello)", connection))
                {
                    listen.Parameters.AddWithValue("hello", HelloPrefix + node.Id);
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }
                ListeningSince = time.GetUtcNow();
                _listening = true;
                Interlocked.Increment(ref _connections);
                if (failures > 0) logger.LogInformation("Listening for other nodes' changes again after {Failures} failed attempts", failures);
                retry = FirstRetry;
                failures = 0;
                // Changes committed while nothing listened sent their notifies to no one.
                Wake();
                while (true) await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _listening = false;
                if (failures++ == 0) logger.LogWarning(e, "Listening for other nodes' changes failed; the change follower polls until it reconnects");
                else logger.LogDebug(e, "Listening for other nodes' changes failed again ({Failures})", failures);
            }
            try { await Task.Delay(retry, time, stoppingToken); }
            catch (OperationCanceledException) { return; }
            retry = retry * 2 < LastRetry ? retry * 2 : LastRetry;
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.Channel == NodeEventPayload.Channel)
        {
            if (NodeEventPayload.Decode(e.Payload) is not { } remote || remote.NodeId == node.Id) return;
            Interlocked.Increment(ref _remoteEvents);
            events.Publish(remote.Event);
            return;
        }
        if (e.Channel != Channel || e.Payload == node.Id) return;
        if (e.Payload.StartsWith(HelloPrefix, StringComparison.Ordinal))
        {
            // Another node began to listen (or listens again): it commits nothing by saying so.
            if (e.Payload != HelloPrefix + node.Id) wake?.HeardFrom();
            return;
        }
        Interlocked.Increment(ref _wakeUps);
        Wake();
    }
}
