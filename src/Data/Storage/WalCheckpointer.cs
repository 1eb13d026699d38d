using System.Data.Common;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Data.Storage;

/// <summary>
/// SQLite only. The writer turns off automatic checkpoints (<see cref="TaskdeckDatabase.PrepareWriterAsync"/>): left
/// on, every ~1,000 pages one of the engine's commits would copy the WAL into the database file and fsync it, stalling
/// every caller waiting on that group commit. Here the copy runs beside the writer on its own connection, as a
/// passive checkpoint, which never blocks the writer or the readers.
/// </summary>
/// <remarks>
/// A passive checkpoint alone never lets the WAL start over while work keeps coming: SQLite rewinds the WAL only when a
/// write begins after every frame was copied back, and under steady load a commit always lands while the copy runs (or a
/// reader holds an older snapshot), so the file grew without end — 700 MB in a one-minute engine bench, every commit
/// appending to it. Once it holds more than <see cref="RestartAfterFrames"/> frames, one checkpoint runs while this
/// process's writers wait at the <see cref="WriteGate"/>, in RESTART mode: it waits (briefly) for the readers of older
/// snapshots, copies the rest, and the next commit writes the WAL from its start again.
/// </remarks>
internal sealed class WalCheckpointer(TaskdeckDatabase database, WriteGate gate, ILogger<WalCheckpointer> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// About 256 MB of 4 KB pages. The gated round holds the writers for what landed since the last copy (40–100 ms at
    /// full engine speed, when commits write ~40 KB of WAL per execution): a few seconds of such writing between rounds
    /// keeps that cost to a few per cent of the node's busiest minutes, and nothing at ordinary load.
    /// </summary>
    internal int RestartAfterFrames { get; init; } = 65_536;

    /// <summary>How long the gated checkpoint waits for readers of an older snapshot (the writers wait meanwhile).</summary>
    internal TimeSpan ReaderPatience { get; init; } = TimeSpan.FromMilliseconds(200);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try { await CheckpointAsync(stoppingToken); }
                catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "WAL checkpoint failed; will try again"); }
            }
        }
        catch (OperationCanceledException) { }
        try { await CheckpointAsync(CancellationToken.None); } catch (Exception e) { logger.LogDebug(e, "Final WAL checkpoint failed"); }
    }

    /// <summary>One round: a passive copy, and a gated restart when the WAL has grown past its bound.</summary>
    internal async Task CheckpointAsync(CancellationToken ct)
    {
        await using var connection = database.CreateConnection();
        await connection.OpenAsync(ct);
        var passive = await RunAsync(connection, "PASSIVE", ct);
        if (passive.LogFrames < RestartAfterFrames) return;
        using (await gate.EnterAsync(ct))
        {
            await SetBusyTimeoutAsync(connection, ReaderPatience, ct);
            try
            {
                var restart = await RunAsync(connection, "RESTART", ct);
                if (restart.Blocked)
                    logger.LogDebug("WAL restart blocked by a reader ({Frames} frames); next round tries again", restart.LogFrames);
            }
            finally
            {
                // The connection goes back to the pool: its next user must not inherit the wait.
                await SetBusyTimeoutAsync(connection, TimeSpan.Zero, CancellationToken.None);
            }
        }
    }

    private static async Task SetBusyTimeoutAsync(DbConnection connection, TimeSpan wait, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA busy_timeout = {(int)wait.TotalMilliseconds};";
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<(bool Blocked, long LogFrames)> RunAsync(DbConnection connection, string mode, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA wal_checkpoint({mode});";
        await using var reader = await command.ExecuteReaderAsync(ct);
        // One row: busy (1 when a FULL/RESTART could not finish), frames in the WAL, frames copied back.
        if (!await reader.ReadAsync(ct)) return (false, 0);
        return (reader.GetInt64(0) != 0, reader.GetInt64(1));
    }
}
