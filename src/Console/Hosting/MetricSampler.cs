using Taskdeck.Data.Dashboard;

namespace Taskdeck.Console.Hosting;

/// <summary>Writes one queue-length sample at start and then once a minute, for the dashboard's queue chart.</summary>
public sealed class MetricSampler(DashboardQueries queries, TimeProvider time, ILogger<MetricSampler> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try { await queries.RecordSampleAsync(time.GetUtcNow(), stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Could not record a queue sample"); }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }
}
