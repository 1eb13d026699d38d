using Microsoft.AspNetCore.Components;

namespace Taskdeck.Console.Components.Shared;

/// <summary>A column of a <see cref="KeyedTable{TRow}"/>: its title, and a class for its header cell (the row template classes its own cells).</summary>
public sealed record TableColumn(string Title, string? Class = null);

/// <summary>
/// A server-paged table in MudDataGrid's look for the console's live lists (DAG runs, work tasks, schedules). MudDataGrid
/// keys each row by its item but draws every row from a render fragment of its own, and Blazor matches keys only among the
/// elements of one fragment: when a row entered at the top of a live page, every row below it met another row's key at its
/// place and was dropped with its cells and components and made again, on every open page (issue 15). Here the rows are
/// siblings keyed by <see cref="Key"/>: a row that stays keeps its elements and components, and only what changed in it is
/// sent to the browser. A live reload (<see cref="ReloadQuietlyAsync"/>) draws once, without the loading bar.
/// </summary>
public partial class KeyedTable<TRow> where TRow : class
{
    /// <summary>What identifies a row across reads (its id): the row keeps its elements while it stays on the page.</summary>
    [Parameter, EditorRequired] public Func<TRow, object> Key { get; set; } = default!;
    [Parameter, EditorRequired] public IReadOnlyList<TableColumn> Columns { get; set; } = [];
    /// <summary>A row's cells (<c>td.mud-table-cell</c>), one per column.</summary>
    [Parameter, EditorRequired] public RenderFragment<TRow> RowTemplate { get; set; } = default!;
    /// <summary>Classes of a row besides <c>mud-table-row</c>.</summary>
    [Parameter] public Func<TRow, string?>? RowClass { get; set; }
    [Parameter] public string EmptyText { get; set; } = "Nothing to show.";
    [Parameter] public string LoadingText { get; set; } = "Loading…";
    /// <summary>
    /// What the page's row template draws from besides the row (a busy flag that disables its buttons): the table draws
    /// again when it changes. A page renders for its own reasons too, and each of those would otherwise draw every row again.
    /// </summary>
    [Parameter] public object? TemplateState { get; set; }

    protected override object DrawnFrom => (TemplateState, EmptyText, LoadingText);

    private static string CellClass(TableColumn column) => column.Class is null ? "mud-table-cell" : $"mud-table-cell {column.Class}";

    private string RowClassOf(TRow row) => RowClass?.Invoke(row) is { Length: > 0 } extra ? $"mud-table-row {extra}" : "mud-table-row";
}
