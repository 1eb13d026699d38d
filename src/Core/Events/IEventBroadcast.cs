namespace Taskdeck.Core.Events;

/// <summary>
/// Tells the other nodes of an event that has no row in the change feed — a progress report, a spawned worker's
/// "started" — so their pages and <c>/ws/tasks</c> clients see it too (on PostgreSQL: a notify that their change
/// listener republishes on their <see cref="ExecutionEvents"/>). Fire and forget: it never makes the reporter wait, and
/// what it loses (the listener reconnecting) is the latest value, which the database holds and the next read shows.
/// </summary>
public interface IEventBroadcast
{
    /// <summary>Sends <paramref name="e"/>, already published on this node, to the other nodes.</summary>
    void Broadcast(ExecutionEvent e);
}

/// <summary>One node (SQLite), or no way to reach the others (SQL Server): nothing to send.</summary>
public sealed class LocalOnlyBroadcast : IEventBroadcast
{
    public void Broadcast(ExecutionEvent e) { }
}
