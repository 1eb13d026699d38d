using System.Diagnostics;

namespace Taskdeck.Console.Live;

/// <summary>
/// A page's hold on a shared <see cref="LiveModel{T}"/>: the current snapshot, and every update while the page's tab is
/// visible. A hidden tab is handed nothing (no render, no work on its circuit); once shown, if it missed anything, it is
/// handed the model's current snapshot as one reshaped update (no query), through the same path as every other. Each
/// update runs on the page's circuit and its time (applying and drawing it) is reported to the model. Dispose it in the
/// page's <c>DisposeAsync</c>.
/// </summary>
public sealed class LiveViewer<T> : IAsyncDisposable where T : class
{
    private readonly LiveModel<T> _model;
    private readonly PageVisibility? _visibility;
    private readonly Func<Func<Task>, Task>? _onCircuit;
    private readonly Func<LiveUpdate<T>, Task> _onUpdate;
    private readonly Func<LiveViewer<T>, ValueTask> _release;
    private int _missedChanges;
    private int _disposed;

    internal LiveViewer(LiveModel<T> model, object key, LivePage? page, Func<LiveUpdate<T>, Task> onUpdate, Func<LiveViewer<T>, ValueTask> release)
    {
        _model = model;
        Key = key;
        _visibility = page?.Visibility;
        _onCircuit = page?.OnCircuit;
        _onUpdate = onUpdate;
        _release = release;
        if (_visibility is not null) _visibility.Changed += OnVisibilityChanged;
    }

    /// <summary>What the model shows (the page compares it to know whether its view moved).</summary>
    public object Key { get; }

    public LiveModel<T> Model => _model;

    public bool Hidden => _visibility?.Hidden ?? false;

    public Task<T> CurrentAsync(CancellationToken ct = default) => _model.CurrentAsync(ct);

    internal void Deliver(LiveUpdate<T> update)
    {
        if (Hidden)
        {
            Interlocked.Add(ref _missedChanges, Math.Max(1, update.Changes));
            return;
        }
        Apply(update);
    }

    private void Apply(LiveUpdate<T> update) =>
        _ = _onCircuit is null ? ApplyTimedAsync(update) : _onCircuit(() => ApplyTimedAsync(update));

    /// <summary>The clock starts once the circuit runs the update: time spent queued behind other work is not the page's.</summary>
    private async Task ApplyTimedAsync(LiveUpdate<T> update)
    {
        var started = Stopwatch.GetTimestamp();
        try { await _onUpdate(update); }
        catch (Exception e) { _model.UpdateFailed(e); }
        finally { _model.AddRenderCost(Stopwatch.GetElapsedTime(started)); }
    }

    private void OnVisibilityChanged()
    {
        if (Hidden) return;
        _model.Wake();
        var missed = Interlocked.Exchange(ref _missedChanges, 0);
        // The version is read before the snapshot, so the snapshot is at least that new: a later update is never taken
        // for one the page already shows.
        var version = _model.Version;
        if (missed > 0 && _model.Current is { } now) Apply(new LiveUpdate<T>(now, version, [], Reshaped: true, missed));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        if (_visibility is not null) _visibility.Changed -= OnVisibilityChanged;
        await _release(this);
    }
}
