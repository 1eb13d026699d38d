using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;

namespace Taskdeck.Core.Events;

/// <summary>
/// Follows the database's state history (its ids are a change cursor) and republishes, on this node's event
/// stream, the changes other nodes made — so a page on node A sees a task finish on node B within a second.
/// One query per node per interval, however many pages are open.
/// </summary>
public sealed class ChangeFollower(IExecutionStore store, ExecutionEvents events, NodeIdentity node, TimeProvider time, ILogger<ChangeFollower> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private const int PageSize = 1000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long cursor;
        try { cursor = await store.LatestChangeIdAsync(stoppingToken); }
        catch (OperationCanceledException) { return; }
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    IReadOnlyList<StateChange> changes;
                    do
                    {
                        changes = await store.ChangesAfterAsync(cursor, PageSize, stoppingToken);
                        foreach (var change in changes)
                        {
                            cursor = change.Id;
                            if (change.NodeId == node.Id) continue;
                            events.Publish(new StateChanged(change.ExecutionId, change.At, change.From, change.To,
                                Enum.TryParse<Transition>(change.Transition, out var t) ? t : null, 0, null, change.NodeId));
                        }
                    } while (changes.Count == PageSize);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Following other nodes' changes failed; will try again");
                }
            }
        }
        catch (OperationCanceledException) { }
    }
}
