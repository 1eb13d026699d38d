using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>
/// One row of the executions grid, as <see cref="LiveRows"/> has it now. It is the row's only component: its state chip,
/// times and buttons are drawn as markup, not components. On a page at the top of a busy node every row is new at every
/// refresh, and each component a new row brings is made, registered, drawn and disposed again two seconds later, on every
/// open grid (issue 15). It repaints on its own when its row changes in place, and otherwise only when what it shows
/// changed: the grid hands every row its parameters at each of its renders.
/// </summary>
public partial class ExecutionRow
{
    private Execution? _shown;
    private (bool Selected, bool MayOperate, bool ZoneKnown) _shownWith;
    private bool _repaint;
    private IDisposable? _registration;
    private long _registeredId = -1;
    private LiveRows? _registeredWith;

    [Inject] public required ClientTime Clock { get; init; }

    [Parameter, EditorRequired] public Execution Row { get; set; } = default!;
    /// <summary>The page's live rows (null: the row as loaded).</summary>
    [Parameter] public LiveRows? Live { get; set; }
    [Parameter] public bool Selected { get; set; }
    /// <summary>The row's click, which ticks or clears it (kept by the grid across renders: the same handler each time).</summary>
    [Parameter] public EventCallback<MouseEventArgs> Toggle { get; set; }
    [Parameter] public EventCallback<ChangeEventArgs> Select { get; set; }
    [Parameter] public bool MayOperate { get; set; }
    /// <summary>Whether the viewer's time zone is known: the times are drawn again in it when it becomes known.</summary>
    [Parameter] public bool ZoneKnown { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnCancel { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnRetry { get; set; }
    [Parameter] public EventCallback<IReadOnlyList<Execution>> OnDelete { get; set; }

    /// <summary>A non-default queue and the tags, under the task name.</summary>
    private static string Extra(Execution e) =>
        string.Join(" · ", new[] { e.Queue != "default" ? $"queue {e.Queue}" : null, e.Tags.Count > 0 ? string.Join(", ", e.Tags.Take(4)) : null }.OfType<string>());

    protected override void OnParametersSet()
    {
        if (_registeredId != Row.Id || !ReferenceEquals(_registeredWith, Live))
        {
            _registration?.Dispose();
            _registration = Live?.Register(Row.Id, Repaint);
            _registeredId = Row.Id;
            _registeredWith = Live;
        }
    }

    private void Repaint()
    {
        _repaint = true;
        StateHasChanged();
    }

    protected override bool ShouldRender()
    {
        var render = _repaint || !ReferenceEquals(Now, _shown) || _shownWith != (Selected, MayOperate, ZoneKnown);
        _repaint = false;
        return render;
    }

    private Execution Now => Live?.Current(Row) ?? Row;

    /// <summary>
    /// Called by the markup as it draws: the row is taken then, not when the render was asked for. A circuit holds renders
    /// back while the browser has not acknowledged enough of them, and a repaint asked while one is held does not ask
    /// again: the held one must draw the row as it is when it runs (<see cref="PagedTableBase{TRow}.Drawing"/> likewise).
    /// </summary>
    private Execution Drawing()
    {
        (_shown, _shownWith) = (Now, (Selected, MayOperate, ZoneKnown));
        return _shown;
    }

    public void Dispose() => _registration?.Dispose();
}
