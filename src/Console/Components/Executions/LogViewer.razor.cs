using System.Text;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>
/// One log of one attempt: what is stored, then every line appended while it runs. It subscribes before loading
/// so nothing written in between is lost, and drops streamed chunks the stored text already holds.
/// </summary>
public partial class LogViewer : IAsyncDisposable
{
    private readonly StringBuilder _text = new();
    private readonly List<LogAppended> _early = [];
    private ElementReference _box;
    private IAsyncDisposable? _live;
    private bool _loading = true;
    private DateTimeOffset _lastAt = DateTimeOffset.MinValue;
    private int _lineCount;
    private bool _scroll;

    [Parameter, EditorRequired] public long ExecutionId { get; set; }
    [Parameter, EditorRequired] public int Attempt { get; set; }
    [Parameter, EditorRequired] public LogStream Stream { get; set; }
    /// <summary>Reads the stored entries (the page passes ExecutionQueries.LogsAsync).</summary>
    [Parameter, EditorRequired] public Func<CancellationToken, Task<IReadOnlyList<LogEntry>>> Load { get; set; } = default!;
    /// <summary>True while the attempt runs: the viewer shows that it is tailing.</summary>
    [Parameter] public bool Live { get; set; }
    [Parameter] public string? DownloadHref { get; set; }
    [Parameter] public string EmptyText { get; set; } = "Nothing was written to this log.";

    [Inject] public required LiveFeed Feed { get; init; }
    [Inject] public required IJSRuntime JS { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }

    public string Text => _text.ToString();

    protected override async Task OnInitializedAsync()
    {
        _live = Feed.Subscribe(
            e => e is LogAppended l && l.ExecutionId == ExecutionId && l.AttemptNumber == Attempt && l.Stream == Stream,
            batch => InvokeAsync(() => Append(batch.OfType<LogAppended>())),
            TimeSpan.FromMilliseconds(200));
        var stored = await Load(CancellationToken.None);
        foreach (var entry in stored)
        {
            _text.Append(entry.Text);
            if (entry.At > _lastAt) _lastAt = entry.At;
        }
        _loading = false;
        var early = _early.ToList();
        _early.Clear();
        Append(early);
        Count();
    }

    private void Append(IEnumerable<LogAppended> chunks)
    {
        if (_loading) { _early.AddRange(chunks); return; }
        var any = false;
        foreach (var chunk in chunks)
        {
            // Stored entries and published chunks carry the same instant: older ones are already in the text.
            // (compared in microseconds: the database keeps no finer time).
            if (chunk.At.UtcTicks / 10 <= _lastAt.UtcTicks / 10) continue;
            _text.Append(chunk.Text);
            _lastAt = chunk.At;
            any = true;
        }
        if (!any) return;
        Count();
        _scroll = true;
        StateHasChanged();
    }

    private void Count()
    {
        var n = 0;
        for (var i = 0; i < _text.Length; i++) if (_text[i] == '\n') n++;
        _lineCount = _text.Length > 0 && _text[^1] != '\n' ? n + 1 : n;
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
            var ok = await JS.InvokeAsync<bool>("taskdeck.copy", _text.ToString());
            Snackbar.Add(ok ? $"{Stream} log copied." : "The browser refused to copy; use Download instead.", ok ? Severity.Success : Severity.Warning);
        }
        catch (JSException) { Snackbar.Add("The browser refused to copy; use Download instead.", Severity.Warning); }
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
