using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Core.WorkTasks;

/// <summary>
/// Watches the external work tasks nothing in Taskdeck runs: one that started and never reported its end ends TimedOut
/// at its timeout, and one an operator cancelled while it ran ends Cancelled (checked every second).
/// </summary>
public sealed class WorkTaskTimeouts(WorkTaskService workTasks, TimeProvider time, ILogger<WorkTaskTimeouts> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var ended = await workTasks.TimeOutOverdueAsync(stoppingToken);
                    if (ended > 0) logger.LogInformation("{Count} external work tasks timed out", ended);
                    await workTasks.ConfirmExternalCancelsAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Checking work-task timeouts failed; will try again");
                }
            }
        }
        catch (OperationCanceledException) { }
    }
}
