using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Taskdeck.Core.Events;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Changes;

/// <summary>
/// Sends progress reports and spawned workers' starts to the other nodes as notifies on <see cref="NodeEventPayload.Channel"/>
/// (their <see cref="PostgreSqlChangeSignal"/> republishes them). The reporter never waits: events queue here and go
/// out in batches, one round trip each, in the order they were reported.
/// </summary>
public sealed class PostgreSqlEventBroadcast(TaskdeckDatabase database, NodeIdentity node, TimeProvider time, ILogger<PostgreSqlEventBroadcast> logger)
    : BackgroundService, IEventBroadcast
{
    private const int Queue = 10_000;
    private const int Batch = 500;
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(1);

    // Past its bound the oldest go first: a progress report is superseded by the next one anyway.
    private readonly Channel<string> _outbox = Channel.CreateBounded<string>(
        new BoundedChannelOptions(Queue) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });
    private long _sent;

    /// <summary>Events sent so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    public void Broadcast(ExecutionEvent e)
    {
        if (NodeEventPayload.Encode(e, node.Id) is { } payload) _outbox.Writer.TryWrite(payload);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<string>(Batch);
        var failures = 0;
        try
        {
            while (await _outbox.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < Batch && _outbox.Reader.TryRead(out var payload)) batch.Add(payload);
                try
                {
                    await using var connection = new NpgsqlConnection(database.ConnectionString);
                    await connection.OpenAsync(stoppingToken);
                    // One statement: its notifies are delivered together, in the array's order.
                    await using var command = new NpgsqlCommand($"SELECT pg_notify('{NodeEventPayload.Channel}', p) FROM unnest(@p::text[]) WITH ORDINALITY AS u(p, n) ORDER BY n", connection);
                    command.Parameters.AddWithValue("p", batch.ToArray());
                    await command.ExecuteNonQueryAsync(stoppingToken);
                    Interlocked.Add(ref _sent, batch.Count);
                    failures = 0;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Lost for the other nodes until their next read of the record (the database holds the latest value).
                    if (failures++ == 0) logger.LogWarning(e, "Sending {Count} progress or start events to the other nodes failed", batch.Count);
                    await Task.Delay(RetryAfterFailure, time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) { }
    }
}
