using System.Collections.Concurrent;

namespace Taskdeck.Core.Executors;

/// <summary>Work running on this node, so a cancel can reach its token at once.</summary>
public sealed class RunningWork
{
    private readonly ConcurrentDictionary<long, Entry> _running = new();

    public IReadOnlyCollection<long> Ids => _running.Keys.ToArray();
    public int Count => _running.Count;

    internal Entry Register(long executionId, int attempt, CancellationToken shutdown)
    {
        var entry = new Entry(attempt, CancellationTokenSource.CreateLinkedTokenSource(shutdown));
        _running[executionId] = entry;
        return entry;
    }

    internal void Unregister(long executionId, Entry entry)
    {
        _running.TryRemove(new KeyValuePair<long, Entry>(executionId, entry));
        entry.Source.Dispose();
    }

    /// <summary>Fires the running attempt's token; false when it is not running here.</summary>
    public bool SignalCancel(long executionId)
    {
        if (!_running.TryGetValue(executionId, out var entry)) return false;
        entry.CancelRequested = true;
        try { entry.Source.Cancel(); } catch (ObjectDisposedException) { }
        return true;
    }

    /// <summary>
    /// Signals every attempt running here whose record is Cancelling: how a cancel entered on another node reaches the
    /// work on this one (at once from the change feed, <see cref="RemoteCancelRelay"/>; and from the lease keeper's
    /// watch, should a change arrive late or not at all). The database is asked rather than a change trusted: a change
    /// may come late and name an attempt that has ended. Entering Cancelling on this node signals directly
    /// (<see cref="Executions.ExecutionTransitions"/>). Answers how many were signalled.
    /// </summary>
    public async Task<int> SignalRequestedCancelsAsync(Workers.INodeLeaseStore store, string nodeId, CancellationToken ct)
    {
        if (Count == 0) return 0;
        var signalled = 0;
        foreach (var id in await store.FindCancellingOnNodeAsync(nodeId, ct))
            if (SignalCancel(id)) signalled++;
        return signalled;
    }

    public bool IsRunningHere(long executionId) => _running.ContainsKey(executionId);

    /// <summary>Whether the attempt running here was told to stop at someone's request (tests: which path signalled it).</summary>
    internal bool IsCancelRequested(long executionId) => _running.TryGetValue(executionId, out var entry) && entry.CancelRequested;

    /// <summary>The attempt running here for each execution, so a node can check that its records still say so.</summary>
    public IReadOnlyList<(long ExecutionId, int Attempt)> Attempts => _running.Select(p => (p.Key, p.Value.Attempt)).ToList();

    /// <summary>
    /// Stops an attempt whose record this node no longer holds (its lease expired, the record moved on): the work must
    /// not go on beside the attempt that replaces it. False when that attempt is not running here.
    /// </summary>
    public bool SignalLeaseLost(long executionId, int attempt)
    {
        if (!_running.TryGetValue(executionId, out var entry) || entry.Attempt != attempt) return false;
        entry.LeaseLost = true;
        try { entry.Source.Cancel(); } catch (ObjectDisposedException) { }
        return true;
    }

    internal sealed class Entry(int attempt, CancellationTokenSource source)
    {
        public int Attempt { get; } = attempt;
        public CancellationTokenSource Source { get; } = source;
        public volatile bool CancelRequested;
        public volatile bool TimedOut;
        public volatile bool LeaseLost;
    }
}
