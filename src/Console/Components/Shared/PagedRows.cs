using MudBlazor;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// A server-paged table's rows and where it stands (page, size, sort, total), loaded one load at a time: a newer load (a
/// user's sort or page, a live refresh) cancels the one in flight, whose rows are then dropped. A quiet load draws once,
/// when its rows are in; a loud one also shows the loading bar while it waits. A read that fails leaves the rows shown and
/// says why (<see cref="Error"/>): thrown from a render callback it would end the user's circuit. Shared by the tables the
/// console draws itself (<see cref="KeyedTable{TRow}"/>, the executions grid), so that they page and fall back alike.
/// </summary>
/// <param name="read">The table's current reader (its <c>ServerData</c> parameter, which the page may hand again).</param>
/// <param name="redraw">Asks the table to draw what changed.</param>
/// <param name="sort">The order the table starts in (its column and direction; none: the reader's own).</param>
public sealed class PagedRows<TRow>(int pageSize, Func<Func<GridState<TRow>, CancellationToken, Task<GridData<TRow>>>> read, Action redraw,
    (string By, bool Descending)? sort = null) : IDisposable
{
    private CancellationTokenSource? _load;
    private bool _disposed;

    public IReadOnlyList<TRow> Rows { get; private set; } = [];
    public int Total { get; private set; }
    /// <summary>The page shown, from 0.</summary>
    public int Page { get; private set; }
    public int PageSize { get; private set; } = pageSize;
    public (string By, bool Descending)? Sort { get; private set; } = sort;
    /// <summary>False until the first load is in: no rows yet is not "none".</summary>
    public bool Loaded { get; private set; }
    /// <summary>A loud load is under way: the table shows its loading bar.</summary>
    public bool Loading { get; private set; }
    /// <summary>Why the last read failed (null once one succeeds).</summary>
    public string? Error { get; private set; }
    public int LastPage => TablePager.LastPageOf(Total, PageSize);

    /// <summary>Reads the rows for where the table stands (quietly: for a change nobody asked for — no loading bar, one render).</summary>
    public async Task LoadAsync(bool quietly)
    {
        if (_disposed) return;
        _load?.Cancel();
        var load = _load = new CancellationTokenSource();
        if (!quietly)
        {
            Loading = true;
            redraw();
        }
        var state = new GridState<TRow> { Page = Page, PageSize = PageSize };
        if (Sort is { } sort) state.SortDefinitions.Add(new SortDefinition<TRow>(sort.By, sort.Descending, 0, _ => null));
        GridData<TRow> data;
        try { data = await read()(state, load.Token); }
        catch (OperationCanceledException) when (load.IsCancellationRequested) { return; } // a newer load draws
        catch (Exception e)
        {
            if (!ReferenceEquals(_load, load) || _disposed) return;
            (Loading, Error) = (false, $"Could not load the rows: {e.Message}");
            redraw();
            return;
        }
        if (load.IsCancellationRequested || _disposed) return;
        var rows = data.Items as IReadOnlyList<TRow> ?? data.Items.ToList();
        // Rows deleted under the last page: show the last page there still is (the empty one is never drawn). The page only
        // moves back, so a total that disagrees with the rows cannot make this go round.
        var lastPage = TablePager.LastPageOf(data.TotalItems, PageSize);
        if (rows.Count == 0 && Page > lastPage)
        {
            Page = lastPage;
            await LoadAsync(quietly);
            return;
        }
        (Rows, Total, Loaded, Loading, Error) = (rows, data.TotalItems, true, false, null);
        redraw();
    }

    /// <summary>Another page (kept within the first and the last).</summary>
    public Task GoToAsync(int page)
    {
        Page = Math.Clamp(page, 0, LastPage);
        return LoadAsync(quietly: false);
    }

    /// <summary>Another page size, from the first page.</summary>
    public Task ResizeAsync(int pageSize)
    {
        (PageSize, Page) = (pageSize, 0);
        return LoadAsync(quietly: false);
    }

    /// <summary>As MudDataGrid in single sort mode without unsorted: a new column ascending, the sorted one the other way; from the first page.</summary>
    public Task SortByAsync(string by)
    {
        (Sort, Page) = (Sort is { } sort && sort.By == by ? (by, !sort.Descending) : (by, false), 0);
        return LoadAsync(quietly: false);
    }

    public void Dispose()
    {
        _disposed = true;
        _load?.Cancel();
    }
}
