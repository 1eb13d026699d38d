using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Events;

/// <summary>The history rows (state changes) in id order: how a node follows the changes made by the others.</summary>
public interface IChangeFeed
{
    /// <summary>
    /// State changes after a cursor. A change made by <paramref name="exceptNode"/> comes back as its id and node only
    /// (<see cref="FollowedChange.IsBare"/>): the follower needs its id to move its cursor (and to tell it from a late commit),
    /// not its record. Reads a window of ids after the cursor (a few times <paramref name="limit"/>), so a page can come back
    /// short when most ids in it never committed; the rest come with the next call.
    /// </summary>
    Task<IReadOnlyList<FollowedChange>> ChangesAfterAsync(long cursor, int limit, CancellationToken ct = default, string? exceptNode = null);

    /// <summary>The state changes among these ids that are visible now (the follower's late commits); <paramref name="exceptNode"/>'s bare, as above.</summary>
    Task<IReadOnlyList<FollowedChange>> ChangesWithIdsAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default, string? exceptNode = null);

    Task<long> LatestChangeIdAsync(CancellationToken ct = default);
}

/// <summary>A history row as another node's follower reads it, with the DAG run of its record (null when none, or deleted).</summary>
public sealed record FollowedChange(StateChange Change, long? DagRunId)
{
    /// <summary>Only <see cref="StateChange.Id"/> and <see cref="StateChange.NodeId"/> were read (a change of the node that asked).</summary>
    public bool IsBare { get; init; }
}
