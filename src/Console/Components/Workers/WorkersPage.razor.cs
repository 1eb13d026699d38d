using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Workers;

namespace Taskdeck.Console.Components.Workers;

/// <summary>Nodes and their leases: refreshed by the shared lease watcher and by state changes (what runs where).</summary>
public partial class WorkersPage : IAsyncDisposable
{
    private IReadOnlyList<WorkerView>? _workers;
    private IAsyncDisposable? _live;
    private IDisposable? _leases;
    private int _expiry;

    [Inject] public required WorkerLeases Leases { get; init; }
    [Inject] public required LiveFeed Feed { get; init; }
    [Inject] public required TimeProvider Time { get; init; }
    [Inject] public required IOptions<TaskdeckOptions> Options { get; init; }

    private DateTimeOffset Now => Time.GetUtcNow();

    private bool IsHealthy(WorkerNode node) => node.StoppedAt is null && Now - node.HeartbeatAt < TimeSpan.FromSeconds(_expiry);

    protected override async Task OnInitializedAsync()
    {
        _expiry = Options.Value.Leases.ExpirySeconds;
        _workers = await Leases.SnapshotAsync();
        _leases = Leases.Watch(snapshot => InvokeAsync(() => { _workers = snapshot; StateHasChanged(); }));
        _live = Feed.Subscribe(e => e is StateChanged, _ => InvokeAsync(async () => { _workers = await Leases.SnapshotAsync(); StateHasChanged(); }), TimeSpan.FromMilliseconds(500));
    }

    public async ValueTask DisposeAsync()
    {
        _leases?.Dispose();
        if (_live is not null) await _live.DisposeAsync();
    }
}
