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

    public bool IsRunningHere(long executionId) => _running.ContainsKey(executionId);

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
