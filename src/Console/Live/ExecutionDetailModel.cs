using System.Collections.Immutable;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;

namespace Taskdeck.Console.Live;

/// <summary>One execution as its page shows it: null detail when it does not exist; <paramref name="Deleted"/> once it was deleted while shown.</summary>
public sealed record ExecutionDetailSnapshot(ExecutionDetail? Detail, bool Deleted);

/// <summary>
/// One execution's detail (its row, attempts and history), shared by every page that shows it. A progress report is applied
/// to the row in place (no query); a deletion empties it in place; a state change (a new attempt, a history line) makes it
/// stale: it is read again at the next interval, once for every viewer.
/// </summary>
public sealed class ExecutionDetailModel : LiveModel<ExecutionDetailSnapshot>
{
    private readonly ExecutionQueries _queries;
    private List<ExecutionEvent> _pending = [];

    public ExecutionDetailModel(long id, ExecutionQueries queries, ExecutionEvents events, LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        Id = id;
        _queries = queries;
        Follow(events.Subscribe(e =>
        {
            if (e.ExecutionId != id) return;
            lock (Gate)
            {
                switch (e)
                {
                    case StateChanged:
                        MarkStale();
                        break;
                    case ProgressChanged or ExecutionDeleted:
                        _pending.Add(e);
                        MarkPending();
                        break;
                }
            }
        }));
    }

    public long Id { get; }

    /// <summary>An act from a page (cancel, retry) changed it: read it again at the next interval.</summary>
    public void Invalidate()
    {
        lock (Gate) MarkStale();
    }

    protected override async Task<ExecutionDetailSnapshot> QueryAsync(CancellationToken ct) =>
        new(await _queries.GetDetailAsync(Id, ct), false);

    // Progress reported before the query started is in what it reads; a deletion is kept (the row is gone either way).
    protected override void OnQueryStarting() => _pending = _pending.Where(e => e is ExecutionDeleted).ToList();

    protected override LiveUpdate<ExecutionDetailSnapshot>? Compare(ExecutionDetailSnapshot previous, ExecutionDetailSnapshot fresh, long version) =>
        new(fresh, version, [Id], true, 1);

    protected override (ExecutionDetailSnapshot Snapshot, IReadOnlyCollection<long> Changed)? ApplyPending(ExecutionDetailSnapshot current)
    {
        if (_pending.Count == 0) return null;
        var pending = _pending;
        _pending = [];
        if (pending.Any(e => e is ExecutionDeleted)) return (new ExecutionDetailSnapshot(null, true), [Id]);
        if (current.Detail is not { } detail) return null;
        var row = detail.Execution;
        foreach (var e in pending) row = ExecutionGridModel.Patch(row, e) ?? row;
        return ReferenceEquals(row, detail.Execution) ? null : (current with { Detail = detail with { Execution = row } }, [Id]);
    }
}

/// <summary>One log of one attempt: the chunks in order (the stored text first, then each one appended live), and the instant of the last.</summary>
public sealed record LogTail(ImmutableList<string> Chunks, DateTimeOffset LastAt, bool Loaded)
{
    /// <summary>The id of the last stored line in the chunks (0: none read by id).</summary>
    public long LastStoredId { get; init; }

    public static readonly LogTail Empty = new([], DateTimeOffset.MinValue, false);
}

/// <summary>
/// One log of one attempt, shared by every page that shows it: what is stored is read once, then every chunk published
/// for it is appended in place (no query). It subscribes before reading so nothing written in between is lost, and drops
/// published chunks the stored text already holds (they carry the same instant). Lines are published only on the node
/// that runs the attempt: for an attempt running on another node the stored log is read for lines after the last one
/// seen every <see cref="RemoteTailInterval"/> while it runs and a viewer looks (the runner stores its lines every 200 ms).
/// </summary>
public sealed class LogTailModel : LiveModel<LogTail>
{
    /// <summary>How often the stored log of an attempt running on another node is read for new lines.</summary>
    public static readonly TimeSpan RemoteTailInterval = TimeSpan.FromSeconds(1);

    private readonly Func<long, CancellationToken, Task<IReadOnlyList<LogEntry>>> _load;
    private readonly ILogger _logger;
    // StoredId: a line read from the store, new when its id is past the shown log's last (whatever its instant: lines of one
    // microsecond exist); 0: a published chunk, new only when later than the last one shown.
    private readonly List<(DateTimeOffset At, string Text, long StoredId)> _pending = [];
    private long _lastStoredId;
    private bool _tailingStore;
    private int _tailReading;

    /// <param name="load">Reads the stored lines after an id (0: all of them), in order.</param>
    /// <param name="runsElsewhere">The attempt runs now, on another node: its lines are read from the store while it runs.</param>
    public LogTailModel(long executionId, int attempt, LogStream stream, Func<long, CancellationToken, Task<IReadOnlyList<LogEntry>>> load, bool runsElsewhere,
        ExecutionEvents events, LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        _load = load;
        _logger = logger;
        // Set before the subscription: the attempt's end may arrive at once, and it stops the tail.
        _tailingStore = runsElsewhere;
        Follow(events.Subscribe(e =>
        {
            if (e.ExecutionId != executionId) return;
            if (e is LogAppended l && l.AttemptNumber == attempt && l.Stream == stream)
            {
                lock (Gate)
                {
                    _pending.Add((l.At, l.Text, 0));
                    MarkPending();
                }
            }
            // The attempt has ended: its last lines were written no later than this change (the runner flushes them before
            // it closes), while a line published before this model subscribed — or on another node, whose lines are not
            // published here — was never handed to it. Read the stored log once more.
            else if (e is StateChanged { From: { } from } s && s.AttemptNumber == attempt && from.IsActive() && !s.To.IsActive())
            {
                lock (Gate)
                {
                    _tailingStore = false;
                    MarkStale();
                }
            }
        }));
        if (!runsElsewhere) return;
        Follow(time.CreateTimer(_ => _ = ReadNewStoredLinesAsync(), null, RemoteTailInterval, RemoteTailInterval));
    }

    /// <summary>The stored lines after the last one seen, queued as chunks (skipped while nobody looks, or while the last read is still out).</summary>
    private async Task ReadNewStoredLinesAsync()
    {
        long after;
        lock (Gate)
        {
            if (!_tailingStore || !Watched || Current is null) return;
            after = _lastStoredId;
        }
        if (Interlocked.Exchange(ref _tailReading, 1) == 1) return;
        try
        {
            var lines = await _load(after, CancellationToken.None);
            lock (Gate)
            {
                foreach (var line in lines.Where(l => l.Id > _lastStoredId)) _pending.Add((line.At, line.Text, line.Id));
                _lastStoredId = Math.Max(_lastStoredId, lines.Count == 0 ? 0 : lines.Max(l => l.Id));
                if (_pending.Count > 0) MarkPending();
            }
        }
        catch (Exception e) { _logger.LogDebug(e, "Reading new lines of a log running on another node failed; the next read tries again"); }
        finally { Volatile.Write(ref _tailReading, 0); }
    }

    protected override async Task<LogTail> QueryAsync(CancellationToken ct)
    {
        var stored = await _load(0, ct);
        var last = stored.Count == 0 ? DateTimeOffset.MinValue : stored.Max(e => e.At);
        var lastId = stored.Count == 0 ? 0 : stored.Max(e => e.Id);
        lock (Gate) _lastStoredId = Math.Max(_lastStoredId, lastId);
        var text = string.Concat(stored.Select(e => e.Text));
        return new LogTail(text.Length == 0 ? [] : [text], last, true) { LastStoredId = lastId };
    }

    // A read again at the attempt's end mostly finds what the viewers already show: they are not redrawn for it.
    protected override LiveUpdate<LogTail>? Compare(LogTail previous, LogTail fresh, long version) =>
        previous.Loaded && SameText(previous, fresh) ? null : base.Compare(previous, fresh, version);

    // Chunk by chunk over spans: a log may be a megabyte a stream, read again at every attempt's end.
    private static bool SameText(LogTail a, LogTail b)
    {
        if (a.Chunks.Sum(c => c.Length) != b.Chunks.Sum(c => c.Length)) return false;
        int i = 0, j = 0, atA = 0, atB = 0;
        while (i < a.Chunks.Count && j < b.Chunks.Count)
        {
            var left = a.Chunks[i].AsSpan(atA);
            var right = b.Chunks[j].AsSpan(atB);
            var length = Math.Min(left.Length, right.Length);
            if (!left[..length].SequenceEqual(right[..length])) return false;
            atA += length;
            atB += length;
            if (atA == a.Chunks[i].Length) (i, atA) = (i + 1, 0);
            if (atB == b.Chunks[j].Length) (j, atB) = (j + 1, 0);
        }
        return true;
    }

    // Chunks published while the stored text was read are weighed against it.
    protected override void OnQueryCompleted(LogTail fresh)
    {
        if (_pending.Count > 0) MarkPending();
    }

    protected override (LogTail Snapshot, IReadOnlyCollection<long> Changed)? ApplyPending(LogTail current)
    {
        if (_pending.Count == 0) return null;
        var chunks = current.Chunks.ToBuilder();
        var last = current.LastAt;
        var lastStoredId = current.LastStoredId;
        foreach (var chunk in _pending)
        {
            // A published chunk is compared by its instant, in microseconds (the database keeps no finer time); a stored line by
            // its id: a tail read that began before the log was read whole at the attempt's end may bring lines it holds already.
            if (chunk.StoredId > 0 ? chunk.StoredId <= lastStoredId : chunk.At.UtcTicks / 10 <= last.UtcTicks / 10) continue;
            chunks.Add(chunk.Text);
            if (chunk.At > last) last = chunk.At;
            lastStoredId = Math.Max(lastStoredId, chunk.StoredId);
        }
        _pending.Clear();
        return chunks.Count == current.Chunks.Count ? null : (new LogTail(chunks.ToImmutable(), last, true) { LastStoredId = lastStoredId }, [0]);
    }
}
