using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dashboard;

namespace Taskdeck.Console.Components.Dashboard;

public partial class DashboardPage : IAsyncDisposable
{
    private DashboardCounts? _counts;
    private DateTimeOffset? _loadedAt;
    private string _range = "1h";
    private int _total;
    private List<ChartSeries<double>> _throughput = [];
    private string[] _throughputLabels = [];
    private List<ChartSeries<double>> _states = [];
    private string[] _stateLabels = [];
    private List<ChartSeries<double>> _durations = [];
    private string[] _durationLabels = [];
    private string _durationUnit = "s";
    private List<ChartSeries<double>> _queue = [];
    private string[] _queueLabels = [];
    private LiveViewer<DashboardSnapshot>? _view;

    private readonly LineChartOptions _lineOptions = new()
    {
        ChartPalette = [StateStyle.Hex(ExecutionState.Succeeded), StateStyle.Hex(ExecutionState.Failed)],
        YAxisTicks = 1, MaxNumYAxisTicks = 6, YAxisRequireZeroPoint = true, ShowDataMarkers = false, LineStrokeWidth = 2, XAxisLines = false, YAxisFormat = "0",
    };
    private readonly LineChartOptions _queueOptions = new()
    {
        ChartPalette = [StateStyle.Hex(ExecutionState.Queued), StateStyle.Hex(ExecutionState.Running), StateStyle.Hex(ExecutionState.Pending)],
        YAxisTicks = 1, MaxNumYAxisTicks = 6, YAxisRequireZeroPoint = true, ShowDataMarkers = false, LineStrokeWidth = 2, XAxisLines = false, YAxisFormat = "0",
    };
    private DonutChartOptions _donutOptions = new();
    private readonly BarChartOptions _barOptions = new() { ChartPalette = ["#26a69a", "#5c6bc0"], YAxisFormat = "0.#", YAxisTicks = 1, MaxNumYAxisTicks = 6 };

    [Inject] public required LiveModels Live { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required ClientTime Clock { get; init; }
    [Inject] public required TimeProvider Time { get; init; }

    /// <summary>Counts and charts come from the range's shared model: every open dashboard shares its queries.</summary>
    protected override Task OnInitializedAsync() => WatchAsync();

    private async Task WatchAsync()
    {
        var previous = _view;
        _view = Live.WatchDashboard(_range, new LivePage(Visibility, InvokeAsync), update => { Show(update.Snapshot); StateHasChanged(); return Task.CompletedTask; });
        if (previous is not null) await previous.DisposeAsync();
        Show(await _view.CurrentAsync());
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (firstRender && !Clock.Known)
        {
            await Clock.EnsureAsync();
            if (Clock.Known) { BuildLabelsAfterZone(); StateHasChanged(); }
        }
    }

    private async Task SetRangeAsync(string range)
    {
        if (_range == range) return;
        _range = range;
        await WatchAsync();
    }

    private IReadOnlyList<ThroughputBucket> _buckets = [];
    private IReadOnlyList<Core.Workers.MetricSample> _samples = [];

    private void Show(DashboardSnapshot snapshot)
    {
        var states = snapshot.States;
        var durations = snapshot.Durations;
        _counts = snapshot.Counts;
        _buckets = snapshot.Buckets;
        _samples = snapshot.Samples;
        _loadedAt = snapshot.LoadedAt;

        _throughput =
        [
            new ChartSeries<double> { Name = "Succeeded", Data = _buckets.Select(b => (double)b.Succeeded).ToArray() },
            new ChartSeries<double> { Name = "Failed", Data = _buckets.Select(b => (double)b.Failed).ToArray() },
        ];
        var present = StateStyle.DisplayOrder.Where(s => states.GetValueOrDefault(s) > 0).ToList();
        _total = states.Values.Sum();
        _states = [new ChartSeries<double> { Name = "Executions", Data = present.Select(s => (double)states[s]).ToArray() }];
        _stateLabels = present.Select(s => $"{StateStyle.Label(s)} ({states[s]:N0})").ToArray();
        _donutOptions = new DonutChartOptions { ChartPalette = present.Select(StateStyle.Hex).ToArray(), ShowLegend = true };
        // Short tasks read better in milliseconds, long ones in seconds.
        _durationUnit = durations.Count > 0 && durations.Max(d => d.P95) < TimeSpan.FromSeconds(2) ? "ms" : "s";
        double Scale(TimeSpan t) => Math.Round(_durationUnit == "ms" ? t.TotalMilliseconds : t.TotalSeconds, 2);
        _durations =
        [
            new ChartSeries<double> { Name = "p50", Data = durations.Select(d => Scale(d.P50)).ToArray() },
            new ChartSeries<double> { Name = "p95", Data = durations.Select(d => Scale(d.P95)).ToArray() },
        ];
        _durationLabels = durations.Select(d => d.Name).ToArray();
        _queue =
        [
            new ChartSeries<double> { Name = "Queued", Data = _samples.Select(s => (double)s.Queued).ToArray() },
            new ChartSeries<double> { Name = "Running", Data = _samples.Select(s => (double)s.Running).ToArray() },
            new ChartSeries<double> { Name = "Waiting", Data = _samples.Select(s => (double)s.Waiting).ToArray() },
        ];
        BuildLabelsAfterZone();
    }

    /// <summary>Axis labels are local clock times: every n-th bucket labelled so they don't overlap.</summary>
    private void BuildLabelsAfterZone()
    {
        var every = Math.Max(1, _buckets.Count / 8);
        _throughputLabels = _buckets.Select((b, i) => i % every == 0 ? Clock.ToLocal(b.Start).ToString("HH:mm") : "").ToArray();
        var sampleEvery = Math.Max(1, _samples.Count / 8);
        _queueLabels = _samples.Select((s, i) => i % sampleEvery == 0 ? Clock.ToLocal(s.At).ToString("HH:mm") : "").ToArray();
    }

    private string OldestQueued => _counts?.OldestQueuedAt is { } at ? Format.Duration(Time.GetUtcNow() - at) : "—";

    public async ValueTask DisposeAsync()
    {
        if (_view is not null) await _view.DisposeAsync();
    }
}
