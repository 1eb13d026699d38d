using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>
/// One log of one attempt: what is stored, then every line appended while it runs, from the log's shared model
/// (<see cref="LogTailModel"/>): the page keeps no copy of its own, and a hidden tab is handed nothing.
/// </summary>
public partial class LogViewer : IAsyncDisposable
{
    private LogTail _tail = LogTail.Empty;
    private ElementReference _box;
    private LiveViewer<LogTail>? _view;
    private bool _loading = true;
    private int _lineCount;
    private int _counted;
    private int _newlines;
    private bool _scroll;

    [Parameter, EditorRequired] public long ExecutionId { get; set; }
    [Parameter, EditorRequired] public int Attempt { get; set; }
    [Parameter, EditorRequired] public LogStream Stream { get; set; }
    /// <summary>Reads the stored entries after an id (0: all), in order (the page passes ExecutionQueries.LogsAsync).</summary>
    [Parameter, EditorRequired] public Func<long, CancellationToken, Task<IReadOnlyList<LogEntry>>> Load { get; set; } = default!;
    /// <summary>True while the attempt runs: the viewer shows that it is tailing.</summary>
    [Parameter] public bool Live { get; set; }
    /// <summary>The attempt runs on another node, whose lines are not published here: while Live, its stored log is tailed.</summary>
    [Parameter] public bool RunsElsewhere { get; set; }
    [Parameter] public string? DownloadHref { get; set; }
    [Parameter] public string EmptyText { get; set; } = "Nothing was written to this log.";

    [Inject] public required LiveModels Models { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required IJSRuntime JS { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }

    public string Text => string.Concat(_tail.Chunks);

    protected override async Task OnInitializedAsync()
    {
        // The log's shared model: read once, then every chunk appended in place for every page that shows it.
        _view = Models.WatchLog(ExecutionId, Attempt, Stream, Load, Live && RunsElsewhere, new LivePage(Visibility, InvokeAsync), update => { Show(update.Snapshot); return Task.CompletedTask; });
        Show(await _view.CurrentAsync(), render: false);
    }

    private void Show(LogTail tail, bool render = true)
    {
        if (!tail.Loaded || ReferenceEquals(tail, _tail)) return;
        var extends = Extends(tail, _tail);
        var grew = tail.Chunks.Count > _tail.Chunks.Count || !extends;
        // Read again whole (the attempt ended) rather than grown by chunks: the lines are counted afresh.
        if (!extends) (_counted, _newlines) = (0, 0);
        _tail = tail;
        _loading = false;
        Count();
        if (!render) return;
        _scroll = grew;
        StateHasChanged();
    }

    private static bool Extends(LogTail tail, LogTail before) =>
        tail.Chunks.Count >= before.Chunks.Count && (before.Chunks.Count == 0 || ReferenceEquals(tail.Chunks[before.Chunks.Count - 1], before.Chunks[^1]));

    private void Count()
    {
        // Only the chunks appended since the last count are read.
        for (; _counted < _tail.Chunks.Count; _counted++) _newlines += _tail.Chunks[_counted].AsSpan().Count('\n');
        var last = _tail.Chunks.Count > 0 ? _tail.Chunks[^1] : "";
        _lineCount = last.Length > 0 && last[^1] != '\n' ? _newlines + 1 : _newlines;
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!_scroll) return;
        _scroll = false;
        try { await JS.InvokeVoidAsync("taskdeck.scrollToEnd", _box); }
        catch (JSException) { }
    }

    private async Task CopyAsync()
    {
        try
        {
            var ok = await JS.InvokeAsync<bool>("taskdeck.copy", Text);
            Snackbar.Add(ok ? $"{Stream} log copied." : "The browser refused to copy; use Download instead.", ok ? Severity.Success : Severity.Warning);
        }
        catch (JSException) { Snackbar.Add("The browser refused to copy; use Download instead.", Severity.Warning); }
    }

    public async ValueTask DisposeAsync()
    {
        if (_view is not null) await _view.DisposeAsync();
    }
}
