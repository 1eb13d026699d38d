using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Executors;

/// <summary>What an execution asks of a node: cores (fractions allowed), memory and GPUs.</summary>
public readonly record struct ResourceNeed(double Cores, long MemoryMB, int Gpus)
{
    public static ResourceNeed Of(Execution e) => new(e.Cores, e.MemoryMB, e.Gpus);
    public bool IsNone => Cores <= 0 && MemoryMB <= 0 && Gpus <= 0;
    // A tiny tolerance so that ten 0.1-core tasks fit in one core despite floating-point sums.
    public bool FitsIn(ResourceNeed room) => Cores <= room.Cores + 1e-9 && MemoryMB <= room.MemoryMB && Gpus <= room.Gpus;
    public static ResourceNeed operator +(ResourceNeed a, ResourceNeed b) => new(a.Cores + b.Cores, a.MemoryMB + b.MemoryMB, a.Gpus + b.Gpus);
    public static ResourceNeed operator -(ResourceNeed a, ResourceNeed b) => new(a.Cores - b.Cores, a.MemoryMB - b.MemoryMB, a.Gpus - b.Gpus);
    public override string ToString() => $"{Cores:0.###} cores, {MemoryMB} MB, {Gpus} GPUs";
}

/// <summary>
/// Resource-aware admission on one node: an execution starts only while the node's free capacity
/// (<c>Taskdeck:Node:Cores/MemoryMB/Gpus</c> minus what running attempts hold) covers what it asks.
/// Work that asks for nothing is never held back.
/// <para>
/// Order among refused work: every refusal is remembered as a waiter. A task is admitted only if it fits in the free
/// capacity left after reserving what every waiter ahead of it asks; "ahead" is higher priority, or equal priority and
/// refused earlier (FIFO). So the queue drains in priority order and a small task cannot overtake a larger one of the
/// same or higher priority.
/// </para>
/// <para>
/// Starvation bound: a waiter refused for <see cref="ReserveAfter"/> becomes <em>starving</em> and goes ahead of every
/// non-starving task whatever its priority (starving ones among themselves by first refusal). From then on no other
/// task starts on this node unless it fits beside the starving task's reservation, so the starving task waits at most
/// <see cref="ReserveAfter"/> plus the time the attempts already running need to release its share (plus one
/// re-admission poll). Waiters that stop asking (cancelled, taken by another node) are forgotten after
/// <see cref="ForgetAfter"/> so they cannot hold a reservation.
/// </para>
/// </summary>
public sealed class CapacityGate(IOptions<TaskdeckOptions> options, TimeProvider time) : IAdmissionGate
{
    public static readonly TimeSpan ReserveAfter = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan ForgetAfter = TimeSpan.FromSeconds(5);

    private sealed record Waiter(long Id, int Priority, ResourceNeed Need, DateTimeOffset FirstRefused, DateTimeOffset LastSeen, int Refusals);

    private readonly Lock _gate = new();
    private readonly Dictionary<long, Waiter> _waiters = [];
    private ResourceNeed _used;

    /// <summary>Raised (outside the lock) when capacity is released, with the waiters that may fit now, first first.</summary>
    public event Action<IReadOnlyList<long>>? CapacityReleased;

    public ResourceNeed Capacity
    {
        get
        {
            var n = options.Value.Node;
            return new ResourceNeed(n.Cores, n.MemoryMB, n.Gpus);
        }
    }

    public ResourceNeed InUse { get { lock (_gate) return _used; } }

    public int WaitingCount { get { lock (_gate) return _waiters.Count; } }

    public ValueTask<IDisposable?> TryAdmitAsync(Execution execution, CancellationToken ct) => ValueTask.FromResult(TryAdmit(execution));

    public IDisposable? TryAdmit(Execution execution)
    {
        var need = ResourceNeed.Of(execution);
        if (need.IsNone) return NoLease.Instance;
        var capacity = Capacity;
        // Larger than this node: never admitted here (another node may take it; submit refuses what fits none).
        if (!need.FitsIn(capacity)) return null;
        var now = time.GetUtcNow();
        lock (_gate)
        {
            Forget(now);
            var me = _waiters.GetValueOrDefault(execution.Id) ?? new Waiter(execution.Id, execution.Priority, need, now, now, 0);
            var reserved = default(ResourceNeed);
            foreach (var w in _waiters.Values)
                if (w.Id != me.Id && Ahead(w, me, now)) reserved += w.Need;
            if (need.FitsIn(capacity - _used - reserved))
            {
                _used += need;
                _waiters.Remove(execution.Id);
                return new Lease(this, need);
            }
            _waiters[execution.Id] = me with { Priority = execution.Priority, Need = need, LastSeen = now, Refusals = me.Refusals + 1 };
            return null;
        }
    }

    private static bool Starving(Waiter w, DateTimeOffset now) => w.Refusals > 0 && now - w.FirstRefused >= ReserveAfter;

    /// <summary>Whether <paramref name="a"/> goes before <paramref name="b"/>.</summary>
    private static bool Ahead(Waiter a, Waiter b, DateTimeOffset now)
    {
        bool sa = Starving(a, now), sb = Starving(b, now);
        if (sa != sb) return sa;
        if (!sa && a.Priority != b.Priority) return a.Priority > b.Priority;
        return a.FirstRefused != b.FirstRefused ? a.FirstRefused < b.FirstRefused : a.Id < b.Id;
    }

    private void Forget(DateTimeOffset now)
    {
        List<long>? stale = null;
        foreach (var w in _waiters.Values)
            if (now - w.LastSeen > ForgetAfter) (stale ??= []).Add(w.Id);
        if (stale is not null) foreach (var id in stale) _waiters.Remove(id);
    }

    private void Release(ResourceNeed need)
    {
        List<long> wake = [];
        lock (_gate)
        {
            _used -= need;
            var now = time.GetUtcNow();
            Forget(now);
            var room = Capacity - _used;
            var ordered = _waiters.Values.ToList();
            ordered.Sort((a, b) => a.Id == b.Id ? 0 : Ahead(a, b, now) ? -1 : 1);
            foreach (var w in ordered)
            {
                if (!w.Need.FitsIn(room)) break;
                room -= w.Need;
                wake.Add(w.Id);
            }
        }
        if (wake.Count > 0) CapacityReleased?.Invoke(wake);
    }

    private sealed class Lease(CapacityGate gate, ResourceNeed need) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) gate.Release(need);
        }
    }

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();
        public void Dispose() { }
    }
}
