using MudBlazor;
using Taskdeck.Console.Live;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// A server-paged grid on a shared live list model (<see cref="LiveListModel{TRow}"/>): the grid's <c>ServerData</c> watches
/// the model of the URL's filter and the grid's page and reads its snapshot (the model queries, once for every page that
/// shows the same); a newer snapshot makes the grid read it again (no query of its own; pages hand it their
/// <see cref="KeyedTable{TRow}.ReloadQuietlyAsync"/>, as nobody asked for it). A hidden tab is handed nothing and
/// redraws once when shown. Dispose it with the page.
/// </summary>
public sealed class LiveGrid<TRow>(LivePage livePage, Func<Task> reloadGrid) : IAsyncDisposable where TRow : class
{
    private LiveViewer<LiveList<TRow>>? _view;
    private long _shownVersion;

    public delegate LiveViewer<LiveList<TRow>> Watch(LivePage page, Func<LiveUpdate<LiveList<TRow>>, Task> onUpdate);

    /// <summary>What the grid shows now (null before its first load).</summary>
    public LiveList<TRow>? Current => _view?.Model.Current;

    /// <param name="key">The model's query: a new one moves the grid to another model.</param>
    public async Task<GridData<TRow>> LoadAsync(object key, Watch watch, CancellationToken ct)
    {
        if (_view is null || !Equals(_view.Key, key))
        {
            var previous = _view;
            _view = watch(livePage, OnUpdate);
            _shownVersion = 0;
            if (previous is not null) await previous.DisposeAsync();
        }
        var view = _view;
        var page = await view.CurrentAsync(ct);
        _shownVersion = view.Model.Version;
        return new GridData<TRow> { Items = page.Rows, TotalItems = page.Total };
    }

    /// <summary>On the page's circuit: the grid reads the model again when the update is newer than what it shows.</summary>
    private Task OnUpdate(LiveUpdate<LiveList<TRow>> update) =>
        update.Version > _shownVersion && _view is not null ? reloadGrid() : Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_view is not null) await _view.DisposeAsync();
        _view = null;
    }
}
