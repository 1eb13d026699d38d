using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;

namespace Taskdeck.Core.Events;

/// <summary>
/// Follows the database's state history (its ids are a change cursor) and republishes, on this node's event
/// stream, the changes other nodes made — so a page on node A sees a task finish on node B at once (PostgreSQL: a
/// notify wakes it) or within the poll interval (<c>Taskdeck:Storage:ChangePollMilliseconds</c>, 500 ms).
/// One query per node per pass, however many pages are open; this node's own changes come back as bare ids (the cursor
/// and the gaps need them), not joined to their records.
/// </summary>
/// <remarks>
/// On a server database ids are taken at insert but become visible at commit, so a change can appear after a higher id
/// was already read. Every id the cursor jumps over is kept as a gap and asked for again on each pass until it shows up
/// or <see cref="GapPatience"/> has passed (an id a rolled-back transaction took never will).
/// </remarks>
public sealed class ChangeFollower(IChangeFeed store, ExecutionEvents events, IEnumerable<IRemoteChangeObserver> observers, NodeIdentity node,
    IChangeSignal signal, IOptions<TaskdeckOptions> options, TimeProvider time, ILogger<ChangeFollower> logger) : BackgroundService
{
    private readonly IRemoteChangeObserver[] _observers = observers.ToArray();

    /// <summary>Between two passes at least this long, however often other nodes commit: a busy cluster wakes it all the time.</summary>
    /// <remarks>
    /// 100 ms: each pass is two queries on each node (the cursor and the late commits); at 20 ms, two busy nodes spent
    /// ≈ 13 % of their CPU following each other (BENCHMARKS.md, session 17). A live page refreshes at most every
    /// <c>Taskdeck:Console:Live:MinInterval</c> (250 ms) and a cross-node cancel has a second, so nothing waits on the difference.
    /// </remarks>
    private static readonly TimeSpan MinimumSpacing = TimeSpan.FromMilliseconds(100);
    /// <summary>After a failed pass (the database away), the next one comes this soon, not a whole poll interval later.</summary>
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(1);
    /// <summary>Longer than any transaction that writes state changes stays open.</summary>
    public static readonly TimeSpan GapPatience = TimeSpan.FromMinutes(2);
    private const int PageSize = 1000;
    /// <summary>A bound on the ids kept waiting; past it the oldest are given up first.</summary>
    private const int MaxGaps = 100_000;
    private long _caughtUpAtTicks;
    private readonly SortedDictionary<long, DateTimeOffset> _gaps = [];

    /// <summary>When the follower last finished a pass: read to the end of the change history, or to a window of ids that never committed (null before its first pass).</summary>
    public DateTimeOffset? CaughtUpAt => Interlocked.Read(ref _caughtUpAtTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>How far behind other nodes' changes this node may be: the time since it last caught up.</summary>
    public TimeSpan Lag => CaughtUpAt is { } at ? time.GetUtcNow() - at : TimeSpan.MaxValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long cursor;
        try { cursor = await store.LatestChangeIdAsync(stoppingToken); }
        catch (OperationCanceledException) { return; }
        Interlocked.Exchange(ref _caughtUpAtTicks, time.GetUtcNow().UtcTicks);
        var interval = TimeSpan.FromMilliseconds(options.Value.Storage.ChangePollMilliseconds);
        var wait = interval;
        var lastPass = time.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await signal.WaitAsync(wait, stoppingToken);
                if (MinimumSpacing - time.GetElapsedTime(lastPass) is { Ticks: > 0 } rest) await Task.Delay(rest, time, stoppingToken);
                lastPass = time.GetTimestamp();
                try
                {
                    cursor = await FollowAsync(cursor, stoppingToken);
                    Interlocked.Exchange(ref _caughtUpAtTicks, time.GetUtcNow().UtcTicks);
                    wait = interval;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Following other nodes' changes failed; will try again");
                    wait = interval < RetryAfterFailure ? interval : RetryAfterFailure;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>
    /// One pass: the changes that committed late into a gap, then those after the cursor — all of them, unless a page's
    /// window of ids was mostly ids that never committed (<see cref="IChangeFeed.ChangesAfterAsync"/>): the rest then comes
    /// with the next pass. Returns the new cursor.
    /// </summary>
    internal async Task<long> FollowAsync(long cursor, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var remote = new List<StateChanged>();
        if (_gaps.Count > 0)
        {
            foreach (var change in await store.ChangesWithIdsAsync(_gaps.Keys.ToList(), ct, node.Id))
            {
                _gaps.Remove(change.Change.Id);
                Publish(change, remote);
            }
            foreach (var expired in _gaps.Where(g => now - g.Value > GapPatience).Select(g => g.Key).ToList()) _gaps.Remove(expired);
        }

        IReadOnlyList<FollowedChange> changes;
        do
        {
            changes = await store.ChangesAfterAsync(cursor, PageSize, ct, node.Id);
            foreach (var change in changes)
            {
                var id = change.Change.Id;
                // An identity that jumps (SQL Server's after a restart, a reseed) must not make this loop long: only the
                // nearest ids below the change can still be in flight.
                for (var skipped = Math.Max(cursor + 1, id - MaxGaps); skipped < id; skipped++) _gaps[skipped] = now;
                cursor = id;
                Publish(change, remote);
            }
        } while (changes.Count == PageSize);

        while (_gaps.Count > MaxGaps) _gaps.Remove(_gaps.Keys.First());
        if (remote.Count > 0)
        {
            foreach (var observer in _observers)
            {
                try { await observer.OnRemoteChangesAsync(remote, ct); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogError(e, "{Observer} failed on {Count} changes made by other nodes", observer.GetType().Name, remote.Count);
                }
            }
        }
        return cursor;
    }

    /// <summary>Ids this node still waits for.</summary>
    internal int GapCount => _gaps.Count;

    private void Publish(FollowedChange followed, List<StateChanged> remote)
    {
        var change = followed.Change;
        if (followed.IsBare || change.NodeId == node.Id) return;
        var published = new StateChanged(change.ExecutionId, change.At, change.From, change.To,
            Enum.TryParse<Transition>(change.Transition, out var t) ? t : null, change.AttemptNumber ?? 0, followed.DagRunId, change.NodeId);
        events.Publish(published);
        remote.Add(published);
    }
}

/// <summary>
/// Told, once per pass of the <see cref="ChangeFollower"/>, the state changes other nodes made (as read, after they were
/// published on this node): what this node caches about records another node may change is corrected here.
/// </summary>
public interface IRemoteChangeObserver
{
    Task OnRemoteChangesAsync(IReadOnlyList<StateChanged> changes, CancellationToken ct);
}
