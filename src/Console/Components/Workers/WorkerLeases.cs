using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Data.Workers;

namespace Taskdeck.Console.Components.Workers;

/// <summary>
/// The workers list as a shared live model: one app-wide watcher reads the leases once per heartbeat interval, and after
/// state changes (what runs where) at most once per <see cref="MinGap"/> — only while some page watches — and hands every
/// open Workers page the same snapshot. Pages never poll and never query on their own.
/// </summary>
public sealed class WorkerLeases(WorkerQueries queries, ExecutionEvents events, IOptions<TaskdeckOptions> options, TimeProvider time, ILogger<WorkerLeases> logger) : BackgroundService
{
    /// <summary>The shortest time between two reads caused by state changes.</summary>
    public static readonly TimeSpan MinGap = TimeSpan.FromMilliseconds(500);

    private readonly Lock _gate = new();
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private Action<IReadOnlyList<WorkerView>>[] _watchers = [];
    private long _reads;

    public IReadOnlyList<WorkerView>? Latest { get; private set; }
    private DateTimeOffset _latestAt = DateTimeOffset.MinValue;

    /// <summary>Reads of the leases so far (the first snapshot of each page included).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    public IDisposable Watch(Action<IReadOnlyList<WorkerView>> onSnapshot)
    {
        lock (_gate) _watchers = [.. _watchers, onSnapshot];
        return new Watcher(this, onSnapshot);
    }

    /// <summary>The shared snapshot while it is fresh (read within the last heartbeat); otherwise read now.</summary>
    public async Task<IReadOnlyList<WorkerView>> SnapshotAsync(CancellationToken ct = default)
    {
        var heartbeat = TimeSpan.FromSeconds(Math.Max(1, options.Value.Leases.HeartbeatSeconds));
        if (Latest is { } latest && time.GetUtcNow() - _latestAt < heartbeat) return latest;
        Interlocked.Increment(ref _reads);
        var read = await queries.ListAsync(ct: ct);
        _latestAt = time.GetUtcNow();
        return Latest = read;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var subscription = events.Subscribe(e =>
        {
            if (e is StateChanged && Volatile.Read(ref _watchers).Length > 0) _changed.Writer.TryWrite(true);
        });
        var heartbeat = TimeSpan.FromSeconds(Math.Max(1, options.Value.Leases.HeartbeatSeconds));
        var last = DateTimeOffset.MinValue;
        Task<bool>? changed = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                changed ??= _changed.Reader.WaitToReadAsync(stoppingToken).AsTask();
                var tick = Task.Delay(heartbeat, time, stoppingToken);
                var woke = await Task.WhenAny(changed, tick);
                await woke;
                if (woke == changed)
                {
                    changed = null;
                    _changed.Reader.TryRead(out _);
                    var wait = last + MinGap - time.GetUtcNow();
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, time, stoppingToken);
                }
                var watchers = Volatile.Read(ref _watchers);
                if (watchers.Length == 0) continue;
                try
                {
                    Interlocked.Increment(ref _reads);
                    var snapshot = await queries.ListAsync(ct: stoppingToken);
                    Latest = snapshot;
                    _latestAt = last = time.GetUtcNow();
                    foreach (var w in watchers) w(snapshot);
                }
                catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Could not read worker leases"); }
            }
        }
        catch (OperationCanceledException) { }
    }

    private sealed class Watcher(WorkerLeases owner, Action<IReadOnlyList<WorkerView>> onSnapshot) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate) owner._watchers = owner._watchers.Where(w => w != onSnapshot).ToArray();
        }
    }
}
