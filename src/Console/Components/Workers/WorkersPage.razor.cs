using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Live;
using Taskdeck.Core;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Workers;

namespace Taskdeck.Console.Components.Workers;

/// <summary>Nodes and their leases: refreshed by the shared lease watcher and by state changes (what runs where).</summary>
public partial class WorkersPage : IAsyncDisposable
{
    private IReadOnlyList<WorkerView>? _workers;
    private IDisposable? _leases;
    private bool _missed;
    private int _expiry;

    [Inject] public required WorkerLeases Leases { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required TimeProvider Time { get; init; }
    [Inject] public required IOptions<TaskdeckOptions> Options { get; init; }

    private DateTimeOffset Now => Time.GetUtcNow();

    private bool IsHealthy(WorkerNode node) => node.StoppedAt is null && Now - node.HeartbeatAt < TimeSpan.FromSeconds(_expiry);

    protected override async Task OnInitializedAsync()
    {
        _expiry = Options.Value.Leases.ExpirySeconds;
        _workers = await Leases.SnapshotAsync();
        // The shared snapshot, after heartbeats and state changes; a hidden tab takes none and catches up when shown.
        _leases = Leases.Watch(snapshot =>
        {
            if (Visibility.Hidden) { _missed = true; return; }
            _ = InvokeAsync(() => { _workers = snapshot; StateHasChanged(); });
        });
        Visibility.Changed += OnVisibilityChanged;
    }

    private void OnVisibilityChanged()
    {
        if (Visibility.Hidden || !_missed) return;
        _missed = false;
        _ = InvokeAsync(async () => { _workers = await Leases.SnapshotAsync(); StateHasChanged(); });
    }

    public ValueTask DisposeAsync()
    {
        Visibility.Changed -= OnVisibilityChanged;
        _leases?.Dispose();
        return ValueTask.CompletedTask;
    }
}
