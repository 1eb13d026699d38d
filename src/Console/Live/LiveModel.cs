using System.Diagnostics;
using System.Threading.Channels;

namespace Taskdeck.Console.Live;

/// <summary>What a page is handed after its shared model refreshed: the new snapshot and what changed in it.</summary>
/// <param name="ChangedRows">Rows (execution ids) whose values changed in place; the page repaints just those.</param>
/// <param name="Reshaped">Rows entered, left or moved (or the snapshot has no rows): the page redraws the view.</param>
/// <param name="Changes">How many things changed (rows changed, entered or left): what a paused page counts.</param>
public sealed record LiveUpdate<T>(T Snapshot, long Version, IReadOnlyCollection<long> ChangedRows, bool Reshaped, int Changes);

/// <summary>
/// One in-memory view of one query, shared by every page that shows the same thing. Changes mark it stale (or, where a
/// subclass can, are applied in place without a query); it refreshes at most once per <see cref="LiveCadence"/> interval,
/// only while at least one of its viewers is visible, and hands the same snapshot to all of them. So N pages showing the
/// same filter cost one query per interval, and a page nobody looks at costs none.
/// </summary>
public abstract class LiveModel<T> : IAsyncDisposable where T : class
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly List<IDisposable> _followed = [];
    private readonly LiveCadence _cadence;
    private readonly ILogger _logger;
    private LiveViewer<T>[] _viewers = [];
    private Task? _first;
    private Task? _pump;
    private bool _dirty;
    private int _events;
    private long _queries;
    private long _refreshes;
    private DateTimeOffset _lastRefresh;
    private TimeSpan _lastCost;
    private long _renderTicks;
    private long _previousRenderTicks;
    private LiveWork.ViewCost? _work;
    private LiveWork? _allViews;
    private double _rate;
    private T? _current;
    private long _version;
    private ITimer? _recheck;
    private bool _disposed;

    protected LiveModel(LiveCadence cadence, TimeProvider time, ILogger logger)
    {
        _cadence = cadence;
        Time = time;
        _logger = logger;
    }

    /// <summary>Guards the subclass's pending changes together with the stale flag.</summary>
    protected Lock Gate { get; } = new();
    protected TimeProvider Time { get; }

    /// <summary>The snapshot every viewer now has (null before the first load).</summary>
    public T? Current => Volatile.Read(ref _current);
    public long Version => Interlocked.Read(ref _version);
    /// <summary>Queries this model ran (its first load included).</summary>
    public long Queries => Interlocked.Read(ref _queries);
    /// <summary>Updates handed to viewers (queries and in-place patches).</summary>
    public long Refreshes => Interlocked.Read(ref _refreshes);
    public TimeSpan LastQueryCost => _lastCost;
    /// <summary>
    /// What drawing an update costs all its viewers together: the larger of the last update's (counted as its pages finish
    /// it) and the one before (so the cadence does not fall back while the pages are still drawing).
    /// </summary>
    public TimeSpan RenderCost
    {
        get
        {
            var latest = Interlocked.Read(ref _renderTicks);
            return TimeSpan.FromTicks(Math.Max(latest, Interlocked.Read(ref _previousRenderTicks)));
        }
    }
    /// <summary>The interval the model refreshes at now, given what a refresh costs (query and renders) and its rate of change.</summary>
    public TimeSpan Interval => _cadence.Next(_lastCost + RenderCost, _rate, Stretch);

    /// <summary>How much the live views' shared budget stretches this model's interval now.</summary>
    private double Stretch => _allViews?.Stretch(_cadence.Budget, Time) ?? 1;
    public int ViewerCount => Volatile.Read(ref _viewers).Length;
    /// <summary>True when some viewer is visible: only then is the model refreshed.</summary>
    public bool Watched => Volatile.Read(ref _viewers).Any(v => !v.Hidden);

    /// <summary>Runs the model's query.</summary>
    protected abstract Task<T> QueryAsync(CancellationToken ct);

    /// <summary>What a fresh query result changed; null when nothing did (no viewer is disturbed).</summary>
    protected virtual LiveUpdate<T>? Compare(T previous, T fresh, long version) => new(fresh, version, [], true, 1);

    /// <summary>Called (under <see cref="Gate"/>) just before a query: changes that were waiting are read by it.</summary>
    protected virtual void OnQueryStarting() { }

    /// <summary>Called (under <see cref="Gate"/>) once the query's result is the current snapshot.</summary>
    protected virtual void OnQueryCompleted(T fresh) { }

    /// <summary>
    /// Called (under <see cref="Gate"/>) when the first query failed: there is no snapshot to complete, and what
    /// <see cref="OnQueryStarting"/> began to gather is let go (the next caller's first query reads it all). A later query
    /// that fails completes with the snapshot it kept instead.
    /// </summary>
    protected virtual void OnFirstQueryFailed() { }

    /// <summary>Applies the changes that need no query; null when there were none.</summary>
    protected virtual (T Snapshot, IReadOnlyCollection<long> Changed)? ApplyPending(T current) => null;

    /// <summary>Keeps a subscription to a source of changes for as long as the model lives: <see cref="DisposeAsync"/> ends it.</summary>
    protected void Follow(IDisposable subscription)
    {
        lock (Gate) _followed.Add(subscription);
    }

    /// <summary>The shown data may be out of date: query again at the next interval. Call under <see cref="Gate"/>.</summary>
    protected void MarkStale()
    {
        _dirty = true;
        _events++;
        Wake();
    }

    /// <summary>A change was queued for <see cref="ApplyPending"/>. Call under <see cref="Gate"/>.</summary>
    protected void MarkPending()
    {
        _events++;
        Wake();
    }

    protected bool Stale => _dirty;

    /// <summary>A recheck lands this far past its due time, so that what it rechecks is due when it runs.</summary>
    private static readonly TimeSpan RecheckMargin = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Refresh once more at <paramref name="due"/> though no change comes: what the last refresh kept from an earlier full
    /// read (which a late commit, or another node's deletion, can have made wrong unseen) is read in full then. Moves a
    /// recheck already set.
    /// </summary>
    protected void RecheckAt(DateTimeOffset due)
    {
        var delay = due - Time.GetUtcNow() + RecheckMargin;
        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
        lock (Gate)
        {
            if (_disposed) return;
            if (_recheck is null)
                _recheck = Time.CreateTimer(_ =>
                {
                    lock (Gate) _dirty = true;
                    Wake();
                }, null, delay, Timeout.InfiniteTimeSpan);
            else _recheck.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    internal void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>A viewer finished applying and drawing an update (on its circuit) in this time.</summary>
    internal void AddRenderCost(TimeSpan spent)
    {
        Interlocked.Add(ref _renderTicks, spent.Ticks);
        _work?.AddRender(spent);
    }

    /// <summary>A query ran: its cost sets the cadence and is added to the registry's totals.</summary>
    private void Queried(TimeSpan cost)
    {
        _lastCost = cost;
        _work?.AddQuery(cost);
        Interlocked.Increment(ref _queries);
    }

    /// <summary>The kind of view this is, as the node's metrics label its costs: "ExecutionGrid", "Dashboard" …</summary>
    internal string ViewName => GetType().Name is var type && type.EndsWith("Model", StringComparison.Ordinal) ? type[..^"Model".Length] : type;

    /// <summary>Where this model adds what its queries and its pages' drawing cost (the registry's totals, under its kind).</summary>
    internal void ReportTo(LiveWork work)
    {
        _work = work.For(ViewName);
        _allViews = work;
    }

    internal void UpdateFailed(Exception e) => _logger.LogWarning(e, "A live page failed to take an update");

    /// <summary>The current snapshot; the first caller's wait runs the first query, everyone else shares it.</summary>
    public async Task<T> CurrentAsync(CancellationToken ct = default)
    {
        Task first;
        lock (Gate)
        {
            if (_first is null || _first.IsFaulted || _first.IsCanceled) _first = FirstAsync();
            first = _first;
        }
        await first.WaitAsync(ct);
        return Current!;
    }

    private async Task FirstAsync()
    {
        await Task.Yield();
        lock (Gate) OnQueryStarting();
        var watch = Stopwatch.StartNew();
        T fresh;
        try { fresh = await QueryAsync(_stop.Token); }
        catch
        {
            lock (Gate) OnFirstQueryFailed();
            throw;
        }
        Queried(watch.Elapsed);
        lock (Gate)
        {
            Volatile.Write(ref _current, fresh);
            Interlocked.Increment(ref _version);
            _lastRefresh = Time.GetUtcNow();
            OnQueryCompleted(fresh);
        }
        _pump ??= PumpAsync(_stop.Token);
    }

    internal void Add(LiveViewer<T> viewer)
    {
        lock (Gate) _viewers = [.. _viewers, viewer];
        Wake();
    }

    /// <returns>How many viewers remain.</returns>
    internal int Remove(LiveViewer<T> viewer)
    {
        lock (Gate)
        {
            _viewers = _viewers.Where(v => v != viewer).ToArray();
            return _viewers.Length;
        }
    }

    private async Task PumpAsync(CancellationToken ct)
    {
        try
        {
            while (await _wake.Reader.WaitToReadAsync(ct))
            {
                while (_wake.Reader.TryRead(out _)) { }
                // A burst is gathered for a short while; after a refresh the next one waits for the interval. The pages may
                // still be drawing the last update when the wait starts, so it is measured again once it ends: their cost
                // can only have grown.
                var gather = _cadence.MinInterval / 5;
                var wait = _lastRefresh + NextInterval() - Time.GetUtcNow();
                await Task.Delay(wait > gather ? wait : gather, Time, ct);
                while ((wait = _lastRefresh + NextInterval() - Time.GetUtcNow()) > TimeSpan.Zero) await Task.Delay(wait, Time, ct);
                // Nobody looks: stay stale. A viewer that becomes visible wakes the model.
                if (!Watched) continue;
                try { await RefreshAsync(ct); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _logger.LogWarning(e, "A live view could not refresh; it tries again at the next change");
                    lock (Gate) _dirty = true;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>
    /// A query waits for the full cadence (its own cost, the pages' drawing, the rate of change, the live views' budget); a
    /// patch needs no query, so only the drawing can hold it back.
    /// </summary>
    private TimeSpan NextInterval()
    {
        bool dirty;
        lock (Gate) dirty = _dirty;
        return dirty ? _cadence.Next(_lastCost + RenderCost, _rate, Stretch) : _cadence.Next(RenderCost, 0);
    }

    private async Task RefreshAsync(CancellationToken ct)
    {
        bool dirty;
        int events;
        lock (Gate)
        {
            dirty = _dirty;
            _dirty = false;
            events = _events;
            _events = 0;
            if (dirty) OnQueryStarting();
        }
        var now = Time.GetUtcNow();
        var elapsed = Math.Max((now - _lastRefresh).TotalSeconds, _cadence.MinInterval.TotalSeconds);
        _rate = events / elapsed;
        var current = Current!;
        LiveUpdate<T>? update;
        if (dirty)
        {
            var watch = Stopwatch.StartNew();
            T fresh;
            try { fresh = await QueryAsync(ct); }
            catch
            {
                lock (Gate) OnQueryCompleted(current);
                throw;
            }
            Queried(watch.Elapsed);
            update = Compare(current, fresh, Version + 1);
            lock (Gate)
            {
                Volatile.Write(ref _current, fresh);
                if (update is not null) Interlocked.Increment(ref _version);
                OnQueryCompleted(fresh);
            }
        }
        else
        {
            (T Snapshot, IReadOnlyCollection<long> Changed)? applied;
            lock (Gate)
            {
                applied = ApplyPending(current);
                if (applied is { } a)
                {
                    Volatile.Write(ref _current, a.Snapshot);
                    Interlocked.Increment(ref _version);
                }
            }
            update = applied is { } done ? new LiveUpdate<T>(done.Snapshot, Version, done.Changed, false, done.Changed.Count) : null;
        }
        _lastRefresh = Time.GetUtcNow();
        if (update is null) return;
        Interlocked.Increment(ref _refreshes);
        Interlocked.Exchange(ref _previousRenderTicks, Interlocked.Exchange(ref _renderTicks, 0));
        foreach (var viewer in Volatile.Read(ref _viewers))
        {
            try { viewer.Deliver(update); }
            catch (Exception e) { UpdateFailed(e); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        IDisposable[] followed;
        lock (Gate) followed = [.. _followed];
        foreach (var subscription in followed) subscription.Dispose();
        lock (Gate)
        {
            _disposed = true;
            _recheck?.Dispose();
        }
        _wake.Writer.TryComplete();
        await _stop.CancelAsync();
        if (_pump is not null) await _pump;
        if (_first is not null) try { await _first; } catch (Exception) { }
        _stop.Dispose();
    }
}
