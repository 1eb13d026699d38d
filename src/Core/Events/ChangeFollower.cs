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
    private long _caughtUpAtTicks;

    /// <summary>When the follower last read to the end of the change history (null before its first pass).</summary>
    public DateTimeOffset? CaughtUpAt => Interlocked.Read(ref _caughtUpAtTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>How far behind other nodes' changes this node may be: the time since it last caught up.</summary>
    public TimeSpan Lag => CaughtUpAt is { } at ? time.GetUtcNow() - at : TimeSpan.MaxValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long cursor;
        try { cursor = await store.LatestChangeIdAsync(stoppingToken); }
        catch (OperationCanceledException) { return; }
        Interlocked.Exchange(ref _caughtUpAtTicks, time.GetUtcNow().UtcTicks);
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
                    Interlocked.Exchange(ref _caughtUpAtTicks, time.GetUtcNow().UtcTicks);
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
