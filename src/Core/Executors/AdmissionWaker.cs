using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Executors;

/// <summary>
/// A refused execution is re-scheduled half a second later, and Hangfire looks for due scheduled jobs
/// once a second. When capacity is released this moves the jobs of the waiters that now fit straight to their queue,
/// so freed capacity is used within milliseconds instead of up to 1.5 s.
/// </summary>
public sealed class AdmissionWaker(CapacityGate gate, IExecutionReader store, ExecutionDispatcher dispatcher, ILogger<AdmissionWaker> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        gate.CapacityReleased += OnReleased;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        gate.CapacityReleased -= OnReleased;
        return Task.CompletedTask;
    }

    // Raised on the releasing worker's thread: hand off at once.
    private void OnReleased(IReadOnlyList<long> ids) => _ = Task.Run(() => WakeAsync(ids));

    private async Task WakeAsync(IReadOnlyList<long> ids)
    {
        foreach (var id in ids)
        {
            try
            {
                var execution = await store.FindAsync(id);
                if (execution is not { HangfireJobId: { } job } || !execution.State.IsWaiting()) continue;
                // Only a job still waiting in Scheduled moves; one already enqueued or running is left alone.
                dispatcher.Wake(job, execution.Priority);
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "Could not wake execution {Id}; its scheduled retry will still run", id);
            }
        }
    }
}
