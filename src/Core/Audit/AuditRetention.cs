using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Audit;

/// <summary>Deletes entries past <see cref="AuditOptions.RetentionDays"/>: at start, then every prune interval.</summary>
public sealed class AuditRetention(IAuditStore store, IOptions<AuditOptions> options, TimeProvider time, ILogger<AuditRetention> logger) : BackgroundService
{
    // Deleted in chunks so one prune after a long pause never holds the single SQLite writer for long.
    private const int Chunk = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(options.Value.PruneIntervalMinutes), time);
        do
        {
            try
            {
                var pruned = await PruneAsync(stoppingToken);
                if (pruned > 0) logger.LogInformation("Pruned {Count} audit entries older than {Days} days", pruned, options.Value.RetentionDays);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Pruning the audit trail failed; will try again");
            }
        } while (await WaitAsync(timer, stoppingToken));
    }

    /// <summary>Deletes every entry older than the retention; answers how many.</summary>
    public async Task<int> PruneAsync(CancellationToken ct)
    {
        var before = time.GetUtcNow().AddDays(-options.Value.RetentionDays);
        var total = 0;
        int pruned;
        do total += pruned = await store.PruneAsync(before, Chunk, ct);
        while (pruned == Chunk);
        return total;
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }
}
