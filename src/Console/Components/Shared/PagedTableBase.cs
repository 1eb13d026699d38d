using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// What the tables the console draws itself (<see cref="KeyedTable{TRow}"/>, the executions grid) share: their rows, paged
/// on the server (<see cref="PagedRows{TRow}"/>), loaded once the table is in the browser, and drawn only when those rows or
/// what the table draws them from changed — a page renders for its own reasons too (its total, its toolbar), and each of
/// those would otherwise draw every row again.
/// </summary>
public abstract class PagedTableBase<TRow> : ComponentBase, IDisposable where TRow : class
{
    /// <summary>Reads a page of rows: MudDataGrid's signature, so a page's loader serves either.</summary>
    [Parameter, EditorRequired] public Func<GridState<TRow>, CancellationToken, Task<GridData<TRow>>> ServerData { get; set; } = default!;
    [Parameter] public int RowsPerPage { get; set; } = 25;

    private bool _redraw;
    private object? _drawnFrom;

    protected PagedRows<TRow> Paged { get; private set; } = default!;

    /// <summary>The rows shown now.</summary>
    public IReadOnlyList<TRow> Rows => Paged.Rows;

    /// <summary>How many times the table rendered.</summary>
    internal int OwnRenders { get; private set; }

    /// <summary>What the table draws its rows from besides them (compared by value): the table draws again when it changes.</summary>
    protected abstract object DrawnFrom { get; }

    /// <summary>The order the table starts in (a column and direction), or none: the reader's own.</summary>
    protected virtual (string By, bool Descending)? InitialSort => null;

    protected override void OnInitialized() => Paged = new PagedRows<TRow>(RowsPerPage, () => ServerData, Redraw, InitialSort);

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        OwnRenders++;
        // Not while prerendering (no after-render there): the server's HTML says the rows are loading.
        if (firstRender) await Paged.LoadAsync(quietly: false);
    }

    /// <summary>Reads the page of rows again, showing that it loads (the user acted: the table stays on its page).</summary>
    public Task ReloadAsync() => Paged.LoadAsync(quietly: false);

    /// <summary>Reads the first page of rows (the user changed the filter: another set of rows, read from its start).</summary>
    public Task ReloadFromFirstPageAsync() => Paged.GoToAsync(0);

    /// <summary>Reads the page again for a change nobody asked for (rows entered, left or changed on a live page): no loading bar, one render.</summary>
    public Task ReloadQuietlyAsync() => Paged.LoadAsync(quietly: true);

    /// <summary>The rows or where the table stands changed.</summary>
    protected virtual void OnRowsChanged() { }

    private void Redraw()
    {
        OnRowsChanged();
        _redraw = true;
        StateHasChanged();
    }

    protected override bool ShouldRender() => _redraw || !Equals(DrawnFrom, _drawnFrom);

    /// <summary>
    /// Called by the table's markup as it draws: what it draws from is noted there, not when a render is asked for — a
    /// render asked while one is already queued does not consult <see cref="ShouldRender"/> and is drawn by the queued one,
    /// and after-render comes only once the browser has the batch (a round trip later on a server circuit).
    /// </summary>
    protected void Drawing() => (_redraw, _drawnFrom) = (false, DrawnFrom);

    public virtual void Dispose() => Paged.Dispose();
}
