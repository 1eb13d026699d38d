using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core;
using Taskdeck.Core.Events;
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
    private IAsyncDisposable? _live;
    private readonly SemaphoreSlim _loading = new(1, 1);

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

    [Inject] public required DashboardQueries Queries { get; init; }
    [Inject] public required LiveFeed Feed { get; init; }
    [Inject] public required ClientTime Clock { get; init; }
    [Inject] public required TimeProvider Time { get; init; }
    [Inject] public required IOptions<TaskdeckOptions> Options { get; init; }

    protected override async Task OnInitializedAsync()
    {
        await LoadAsync();
        // Counts and charts change when states change; a batch of events costs one reload.
        _live = Feed.Subscribe(e => e is StateChanged or ExecutionDeleted, _ => InvokeAsync(ReloadAsync), TimeSpan.FromMilliseconds(500));
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (firstRender && !Clock.Known)
        {
            await Clock.EnsureAsync();
            if (Clock.Known) { BuildLabelsAfterZone(); StateHasChanged(); }
        }
    }

    private async Task ReloadAsync()
    {
        await LoadAsync();
        StateHasChanged();
    }

    private async Task SetRangeAsync(string range)
    {
        _range = range;
        await LoadAsync();
    }

    private IReadOnlyList<ThroughputBucket> _buckets = [];
    private IReadOnlyList<Core.Workers.MetricSample> _samples = [];

    private async Task LoadAsync()
    {
        if (!await _loading.WaitAsync(0)) return;
        try
        {
            var now = Time.GetUtcNow();
            var hours = _range == "24h" ? 24 : 1;
            var bucket = _range == "24h" ? TimeSpan.FromMinutes(15) : TimeSpan.FromMinutes(1);
            _counts = await Queries.CountsAsync(now, TimeSpan.FromSeconds(Options.Value.Leases.ExpirySeconds));
            _buckets = await Queries.ThroughputAsync(now.AddHours(-hours).Add(bucket), now, bucket);
            var states = await Queries.StatesNowAsync(now.AddHours(-24));
            var durations = await Queries.DurationsAsync(now.AddHours(-24), 8);
            _samples = await Queries.QueueSamplesAsync(now.AddHours(-hours));
            _loadedAt = now;

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
        finally { _loading.Release(); }
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
        if (_live is not null) await _live.DisposeAsync();
    }
}
