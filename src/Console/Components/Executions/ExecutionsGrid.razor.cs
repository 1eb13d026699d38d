using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>
/// The executions grid: a server-paged, sortable, selectable table in MudDataGrid's look, drawn here rather than by
/// MudDataGrid. MudDataGrid (and MudTable) key each row by its item, but draw every row from its own render fragment, and
/// Blazor matches keys only among the elements of one fragment: when a row entered at the top of a live page, every row
/// below it met another row's key at its place, and was dropped with its cells and components and made again — on every
/// open page, at every new execution (issue 15). Here the rows are siblings keyed by id: a row that stays keeps its
/// elements, and its live cells do not even render unless it changed.
/// </summary>
public partial class ExecutionsGrid : IDisposable
{
    private const int Columns = 9;
    private static readonly int[] PageSizes = [25, 50, 100];
    private static readonly Dictionary<string, object?> SelectAllAttributes = new() { ["aria-label"] = "Select all rows" };

    [Parameter, EditorRequired] public Func<GridState<Execution>, CancellationToken, Task<GridData<Execution>>> ServerData { get; set; } = default!;
    [Parameter] public HashSet<Execution> SelectedItems { get; set; } = new(ExecutionById.Instance);
    [Parameter] public EventCallback<HashSet<Execution>> SelectedItemsChanged { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnCancel { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnRetry { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnDelete { get; set; }
    [Parameter] public int RowsPerPage { get; set; } = 25;
    /// <summary>The page's live rows: a row that changes in place repaints its own cells only (null: the rows as loaded).</summary>
    [Parameter] public LiveRows? Live { get; set; }
    [Parameter] public string EmptyText { get; set; } = "No executions match these filters.";
    /// <summary>
    /// Whether the rows carry Cancel, Retry and Delete. The page decides (it asks the Operate policy once, for its toolbar
    /// and these rows alike); unless told, the grid draws none.
    /// </summary>
    [Parameter] public bool MayOperate { get; set; }

    private readonly string _rowsPerPageId = $"rows-per-page-{Guid.NewGuid():N}";
    private IReadOnlyList<Execution> _rows = [];
    private int _total;
    private int _page;
    private int _pageSize;
    private (string By, bool Descending)? _sort = (nameof(Execution.Id), true);
    private bool _loaded;
    private bool _loading;
    private CancellationTokenSource? _load;
    private bool _disposed;

    /// <summary>How many times the grid rendered (a row changed in place must not add one: its live cells draw it).</summary>
    internal int OwnRenders { get; private set; }

    private int LastPage => _total <= 0 ? 0 : (_total - 1) / _pageSize;

    private string PageInfo => _total == 0 ? "0-0 of 0" : $"{_page * _pageSize + 1:N0}-{Math.Min(_total, (_page + 1) * _pageSize):N0} of {_total:N0}";

    /// <summary>A non-default queue and the tags, under the task name.</summary>
    private static string Extra(Execution e) =>
        string.Join(" · ", new[] { e.Queue != "default" ? $"queue {e.Queue}" : null, e.Tags.Count > 0 ? string.Join(", ", e.Tags.Take(4)) : null }.OfType<string>());

    protected override void OnInitialized() => _pageSize = RowsPerPage;

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        OwnRenders++;
        // Not while prerendering (no after-render there): the server's HTML says the rows are loading.
        if (firstRender) await LoadAsync(quietly: false);
    }

    /// <summary>Reads the page of rows again, showing that it loads (the user acted on rows: the grid stays on its page).</summary>
    public Task ReloadAsync() => LoadAsync(quietly: false);

    /// <summary>Reads the first page of rows (the user changed the filter: another set of rows, read from its start).</summary>
    public Task ReloadFromFirstPageAsync()
    {
        _page = 0;
        return LoadAsync(quietly: false);
    }

    /// <summary>Reads the page of rows again for a change nobody asked for (rows entered or left a live page): no loading bar, one render.</summary>
    public Task RefreshAsync() => LoadAsync(quietly: true);

    /// <summary>
    /// One load at a time: a newer one (a user's sort, a live refresh) cancels the one in flight, whose rows are then
    /// dropped. A quiet load draws once, when its rows are in; a loud one also shows the bar while it waits.
    /// </summary>
    private async Task LoadAsync(bool quietly)
    {
        if (_disposed) return;
        _load?.Cancel();
        var load = _load = new CancellationTokenSource();
        if (!quietly)
        {
            _loading = true;
            Redraw();
        }
        var state = new GridState<Execution> { Page = _page, PageSize = _pageSize };
        if (_sort is { } sort) state.SortDefinitions.Add(new SortDefinition<Execution>(sort.By, sort.Descending, 0, _ => null));
        GridData<Execution> data;
        try { data = await ServerData(state, load.Token); }
        catch (OperationCanceledException) when (load.IsCancellationRequested) { return; } // a newer load draws
        catch
        {
            if (ReferenceEquals(_load, load) && !_disposed) { _loading = false; Redraw(); }
            throw;
        }
        if (load.IsCancellationRequested || _disposed) return;
        var rows = data.Items as IReadOnlyList<Execution> ?? data.Items.ToList();
        // Rows deleted under the last page: show the last page there still is (the empty one is never drawn). The page only
        // moves back, so a total that disagrees with the rows cannot make this go round.
        var lastPage = Math.Max(0, data.TotalItems - 1) / _pageSize;
        if (rows.Count == 0 && _page > lastPage)
        {
            _page = lastPage;
            await LoadAsync(quietly);
            return;
        }
        _rows = rows;
        _total = data.TotalItems;
        _loaded = true;
        _loading = false;
        var shown = rows.Select(r => r.Id).ToHashSet();
        foreach (var id in _handlers.Keys.Where(id => !shown.Contains(id)).ToList()) _handlers.Remove(id);
        Redraw();
    }

    private async Task SortByAsync(string by)
    {
        // As MudDataGrid in single sort mode without unsorted: a new column ascending, the sorted one the other way.
        _sort = _sort is { } sort && sort.By == by ? (by, !sort.Descending) : (by, false);
        _page = 0;
        await LoadAsync(quietly: false);
    }

    private async Task GoToPageAsync(int page)
    {
        _page = Math.Clamp(page, 0, LastPage);
        await LoadAsync(quietly: false);
    }

    private async Task SetPageSizeAsync(int size)
    {
        _pageSize = size;
        _page = 0;
        await LoadAsync(quietly: false);
    }

    private RenderFragment SortableHeader(string title, string by, string? cellClass) => builder =>
    {
        var direction = _sort is { } sort && sort.By == by ? sort.Descending ? "descending" : "ascending" : null;
        builder.OpenElement(0, "th");
        builder.AddAttribute(1, "scope", "col");
        builder.AddAttribute(2, "class", cellClass is null ? "mud-table-cell" : $"mud-table-cell {cellClass}");
        builder.AddAttribute(3, "aria-sort", direction ?? "none");
        builder.OpenElement(4, "span");
        builder.AddAttribute(5, "class", "column-header");
        builder.OpenElement(6, "span");
        builder.AddAttribute(7, "class", "sortable-column-header cursor-pointer");
        builder.AddAttribute(8, "onclick", EventCallback.Factory.Create(this, () => SortByAsync(by)));
        builder.AddContent(9, title);
        builder.CloseElement();
        builder.OpenElement(10, "span");
        builder.AddAttribute(11, "class", "column-options cursor-pointer");
        builder.AddContent(12, LightControls.IconButton(this, Icons.Material.Filled.ArrowUpward, "default", false, $"Sort by {title}",
            () => SortByAsync(by), direction switch { "descending" => "sort-direction-icon mud-direction-desc", "ascending" => "sort-direction-icon mud-direction-asc", _ => "sort-direction-icon" }));
        builder.CloseElement();
        builder.CloseElement();
        builder.CloseElement();
    };

    // The page renders for its own reasons (its total, the toolbar following the selection, the held-updates chip), and a
    // render of this component draws every row again (their live cells skip it). So the grid draws again only when what
    // it draws from changed: its own rows, sort, page or selection, or the page's parameters that it shows.
    private bool _redraw;
    private (int Selection, object? Live, string EmptyText, bool MayOperate) _drawnFrom;

    private (int, object?, string, bool) DrawnFrom => (_selectionVersion, Live, EmptyText, MayOperate);

    private void Redraw()
    {
        _redraw = true;
        StateHasChanged();
    }

    protected override bool ShouldRender()
    {
        var from = DrawnFrom;
        var render = _redraw || !from.Equals(_drawnFrom);
        _redraw = false;
        _drawnFrom = from;
        return render;
    }

    // The page's selection is compared by what it holds with what the grid shows: the page may clear or fill its set in
    // place and hand it again, and a set the user ticked comes back from the page as the grid made it. A page's selection
    // is at most a page of rows: the comparison is cheap.
    private HashSet<Execution> _selection = new(ExecutionById.Instance);
    private int _selectionVersion;

    private bool? AllSelected
    {
        get
        {
            var ticked = _rows.Count(_selection.Contains);
            return ticked == 0 ? false : ticked == _rows.Count ? true : null;
        }
    }

    protected override void OnParametersSet()
    {
        if (!_selection.SetEquals(SelectedItems))
        {
            _selection = new HashSet<Execution>(SelectedItems, ExecutionById.Instance);
            _selectionVersion++;
        }
        if (OwnRenders == 0) _drawnFrom = DrawnFrom;
    }

    /// <summary>A row's click (which ticks or clears it, as MudDataGrid's did) and its box's change, made once per row shown.</summary>
    private sealed record RowHandlers(EventCallback<MouseEventArgs> Toggle, EventCallback<ChangeEventArgs> Select);

    // Kept across renders: a handler made afresh at every render is a new attribute value on every row, and Blazor sends
    // the browser a new handler for each at every render of the grid.
    private readonly Dictionary<long, RowHandlers> _handlers = [];

    private RowHandlers HandlersOf(long id)
    {
        if (!_handlers.TryGetValue(id, out var handlers))
            _handlers[id] = handlers = new RowHandlers(
                EventCallback.Factory.Create<MouseEventArgs>(this, () => SelectAsync(id, null)),
                EventCallback.Factory.Create<ChangeEventArgs>(this, e => SelectAsync(id, e.Value is true)));
        return handlers;
    }

    /// <param name="selected">Null: the other way than now.</param>
    private Task SelectAsync(long id, bool? selected)
    {
        if (_rows.FirstOrDefault(r => r.Id == id) is not { } row) return Task.CompletedTask;
        var next = new HashSet<Execution>(_selection, ExecutionById.Instance);
        if (selected ?? !next.Contains(row)) next.Add(row); else next.Remove(row);
        return SelectionChangedAsync(next);
    }

    private Task SelectAllAsync(bool? all)
    {
        var next = new HashSet<Execution>(_selection, ExecutionById.Instance);
        foreach (var row in _rows)
            if (all == true) next.Add(row); else next.Remove(row);
        return SelectionChangedAsync(next);
    }

    private Task SelectionChangedAsync(HashSet<Execution> next)
    {
        _selection = next;
        _selectionVersion++;
        return SelectedItemsChanged.InvokeAsync(new HashSet<Execution>(next, ExecutionById.Instance));
    }

    public void Dispose()
    {
        _disposed = true;
        _load?.Cancel();
    }
}
