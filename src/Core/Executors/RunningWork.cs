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

    internal sealed class Entry(int attempt, CancellationTokenSource source)
    {
        public int Attempt { get; } = attempt;
        public CancellationTokenSource Source { get; } = source;
        public volatile bool CancelRequested;
        public volatile bool TimedOut;
    }
}
