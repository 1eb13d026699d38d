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
/// elements, and its <see cref="ExecutionRow"/> does not even render unless it changed.
/// </summary>
public partial class ExecutionsGrid
{
    private const int Columns = 9;
    private static readonly Dictionary<string, object?> SelectAllAttributes = new() { ["aria-label"] = "Select all rows" };

    [Parameter] public HashSet<Execution> SelectedItems { get; set; } = new(ExecutionById.Instance);
    [Parameter] public EventCallback<HashSet<Execution>> SelectedItemsChanged { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnCancel { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnRetry { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnDelete { get; set; }
    /// <summary>The page's live rows: a row that changes in place repaints itself only (null: the rows as loaded).</summary>
    [Parameter] public LiveRows? Live { get; set; }
    [Parameter] public string EmptyText { get; set; } = "No executions match these filters.";
    /// <summary>
    /// Whether the rows carry Cancel, Retry and Delete. The page decides (it asks the Operate policy once, for its toolbar
    /// and these rows alike); unless told, the grid draws none.
    /// </summary>
    [Parameter] public bool MayOperate { get; set; }
    [Inject] public required ClientTime Clock { get; init; }


    protected override (string By, bool Descending)? InitialSort => (nameof(Execution.Id), true);

    private RenderFragment SortableHeader(string title, string by, string? cellClass) => builder =>
    {
        var direction = Paged.Sort is { } sort && sort.By == by ? sort.Descending ? "descending" : "ascending" : null;
        builder.OpenElement(0, "th");
        builder.AddAttribute(1, "scope", "col");
        builder.AddAttribute(2, "class", cellClass is null ? "mud-table-cell" : $"mud-table-cell {cellClass}");
        builder.AddAttribute(3, "aria-sort", direction ?? "none");
        builder.OpenElement(4, "span");
        builder.AddAttribute(5, "class", "column-header");
        builder.OpenElement(6, "span");
        builder.AddAttribute(7, "class", "sortable-column-header cursor-pointer");
        builder.AddAttribute(8, "onclick", EventCallback.Factory.Create(this, () => Paged.SortByAsync(by)));
        builder.AddContent(9, title);
        builder.CloseElement();
        builder.OpenElement(10, "span");
        builder.AddAttribute(11, "class", "column-options cursor-pointer");
        builder.AddContent(12, LightControls.IconButton(this, Icons.Material.Filled.ArrowUpward, "default", false, $"Sort by {title}",
            () => Paged.SortByAsync(by), direction switch { "descending" => "sort-direction-icon mud-direction-desc", "ascending" => "sort-direction-icon mud-direction-asc", _ => "sort-direction-icon" }));
        builder.CloseElement();
        builder.CloseElement();
        builder.CloseElement();
    };

    // A row repaints itself when it changes in place; the grid itself draws again only when its rows, sort, page or
    // selection changed, or the page's parameters that it shows.
    protected override object DrawnFrom => (_selectionVersion, Live, EmptyText, MayOperate, Clock.Known);

    // The rows draw their times in the viewer's zone, asked of the browser once per circuit: the grid asks for it (its rows
    // are not components that could) and draws them again when it is known.
    protected override void OnInitialized()
    {
        base.OnInitialized();
        Clock.Changed += OnZoneKnown;
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        var zone = Clock.Known ? Task.CompletedTask : Clock.EnsureAsync();
        await base.OnAfterRenderAsync(firstRender);
        await zone;
    }

    private void OnZoneKnown() => InvokeAsync(StateHasChanged);

    public override void Dispose()
    {
        Clock.Changed -= OnZoneKnown;
        base.Dispose();
    }

    protected override void OnRowsChanged()
    {
        // Rows no longer shown drop their handlers.
        var shown = Rows.Select(r => r.Id).ToHashSet();
        foreach (var id in _handlers.Keys.Where(id => !shown.Contains(id)).ToList()) _handlers.Remove(id);
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
            var ticked = Rows.Count(_selection.Contains);
            return ticked == 0 ? false : ticked == Rows.Count ? true : null;
        }
    }

    protected override void OnParametersSet()
    {
        if (!_selection.SetEquals(SelectedItems))
        {
            _selection = new HashSet<Execution>(SelectedItems, ExecutionById.Instance);
            _selectionVersion++;
        }
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
        if (Rows.FirstOrDefault(r => r.Id == id) is not { } row) return Task.CompletedTask;
        var next = new HashSet<Execution>(_selection, ExecutionById.Instance);
        if (selected ?? !next.Contains(row)) next.Add(row); else next.Remove(row);
        return SelectionChangedAsync(next);
    }

    private Task SelectAllAsync(bool? all)
    {
        var next = new HashSet<Execution>(_selection, ExecutionById.Instance);
        foreach (var row in Rows)
            if (all == true) next.Add(row); else next.Remove(row);
        return SelectionChangedAsync(next);
    }

    private Task SelectionChangedAsync(HashSet<Execution> next)
    {
        _selection = next;
        _selectionVersion++;
        return SelectedItemsChanged.InvokeAsync(new HashSet<Execution>(next, ExecutionById.Instance));
    }
}
