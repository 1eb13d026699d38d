using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Data.Storage;

/// <summary>
/// SQLite only. The writer turns off automatic checkpoints (<see cref="TaskdeckDatabase.PrepareWriterAsync"/>): left
/// on, every ~1,000 pages one of the engine's commits would copy the WAL into the database file and fsync it, stalling
/// every caller waiting on that group commit. Here the copy runs beside the writer on its own connection, as a
/// passive checkpoint, which never blocks the writer or the readers.
/// </summary>
internal sealed class WalCheckpointer(TaskdeckDatabase database, ILogger<WalCheckpointer> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

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

    private async Task CheckpointAsync(CancellationToken ct)
    {
        await using var connection = database.CreateConnection();
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
        await command.ExecuteNonQueryAsync(ct);
    }
}
