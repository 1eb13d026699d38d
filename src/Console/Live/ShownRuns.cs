using Taskdeck.Core.Events;

namespace Taskdeck.Console.Live;

/// <summary>
/// The runs (executions and DAG runs) a schedule view shows the outcome of: only their state changes make it stale. A view
/// reads a run's state first and learns that it shows the run after, so a change that comes while it reads is kept and
/// weighed against the runs the read found; dropped, the view would show a finished run as running until something else
/// changed it (a schedule that fires nightly: until the next night).
/// </summary>
internal sealed class ShownRuns
{
    // More changes than this during one read: the view is read again, whatever they were.
    private const int MaxKept = 4096;

    // Replaced (never changed) at each read: the engine's threads read them.
    private HashSet<long> _executions = [];
    private HashSet<long> _dagRuns = [];
    private volatile bool _reading;
    // Under the model's gate.
    private readonly List<StateChanged> _whileReading = [];
    private bool _overflowed;

    /// <summary>The change is about a run the view shows (any thread, no lock).</summary>
    public bool Shows(StateChanged change) =>
        Volatile.Read(ref _executions).Contains(change.ExecutionId) || change.DagRunId is { } run && Volatile.Read(ref _dagRuns).Contains(run);

    /// <summary>A read is under way: a change the view does not show yet must be <see cref="KeepWhileReading">kept</see>.</summary>
    public bool Reading => _reading;

    /// <summary>
    /// Any thread: the change makes the view stale now — it is about a run the view shows, or a read under way ended
    /// meanwhile and found its run. Any other change that comes during a read is kept (under the model's gate) and weighed
    /// when the read completes.
    /// </summary>
    public bool MakesStale(StateChanged change, Lock gate)
    {
        // Reading before Shows: a read that starts after this look reads the change's commit.
        var reading = Reading;
        if (Shows(change)) return true;
        if (!reading) return false;
        lock (gate) return KeepWhileReading(change);
    }

    /// <summary>Under the model's gate, just before its query.</summary>
    public void ReadStarting()
    {
        _whileReading.Clear();
        _overflowed = false;
        _reading = true;
    }

    /// <summary>
    /// Under the model's gate, for a change <see cref="Shows"/> said no to while <see cref="Reading"/> was true (read first).
    /// True when the read has ended meanwhile and found the change's run: the view is stale now (nothing is kept for it).
    /// </summary>
    public bool KeepWhileReading(StateChanged change)
    {
        if (!_reading) return Shows(change);
        if (_overflowed) return false;
        if (_whileReading.Count < MaxKept) _whileReading.Add(change);
        else
        {
            _overflowed = true;
            _whileReading.Clear();
        }
        return false;
    }

    /// <summary>In the model's query: the runs the fresh view shows.</summary>
    public void Found(IEnumerable<long> executions, IEnumerable<long> dagRuns)
    {
        Volatile.Write(ref _executions, executions.ToHashSet());
        Volatile.Write(ref _dagRuns, dagRuns.ToHashSet());
    }

    /// <summary>
    /// Under the model's gate, once the query's view is current: true when a change kept meanwhile is about a run it shows.
    /// After a failed query, what it kept is let go (the next read sees it all).
    /// </summary>
    public bool ReadCompleted()
    {
        _reading = false;
        var stale = _overflowed || _whileReading.Any(Shows);
        _whileReading.Clear();
        _overflowed = false;
        return stale;
    }
}
