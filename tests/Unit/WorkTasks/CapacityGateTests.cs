using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Taskdeck.Core;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Unit.WorkTasks;

public class CapacityGateTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

    private CapacityGate Gate(double cores = 2) =>
        new(Options.Create(new TaskdeckOptions { Node = new NodeOptions { Cores = cores, MemoryMB = 1024, Gpus = 0 } }), _time);

    private static Execution Task(long id, double cores, int priority = 1, long memoryMB = 0) =>
        new() { Id = id, Cores = cores, MemoryMB = memoryMB, Priority = priority };

    [Fact]
    public void Admits_OnlyWhileFreeCapacityCoversTheTask_AndReleasesOnDispose()
    {
        var gate = Gate();
        var a = gate.TryAdmit(Task(1, 1));
        var b = gate.TryAdmit(Task(2, 1));
        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.Null(gate.TryAdmit(Task(3, 0.5)));
        Assert.Null(gate.TryAdmit(Task(4, 0, memoryMB: 2048))); // more memory than the node has
        a!.Dispose();
        a.Dispose(); // a second dispose frees nothing twice
        Assert.NotNull(gate.TryAdmit(Task(3, 0.5)));
        Assert.Equal(1.5, gate.InUse.Cores, 6);
    }

    [Fact]
    public void WorkThatAsksForNothing_IsNeverHeldBack()
    {
        var gate = Gate();
        using var full = gate.TryAdmit(Task(1, 2));
        Assert.NotNull(gate.TryAdmit(Task(2, 0)));
    }

    [Fact]
    public void RefusedWork_StartsInPriorityOrder_WhenCapacityFrees()
    {
        var gate = Gate();
        var running = gate.TryAdmit(Task(1, 2));
        Assert.Null(gate.TryAdmit(Task(10, 2, priority: 1))); // refused first, lower priority
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Null(gate.TryAdmit(Task(20, 2, priority: 5)));
        IReadOnlyList<long>? woken = null;
        gate.CapacityReleased += ids => woken = ids;
        running!.Dispose();
        Assert.Equal([20L], woken);
        Assert.Null(gate.TryAdmit(Task(10, 2, priority: 1))); // the higher priority waiter goes first
        Assert.NotNull(gate.TryAdmit(Task(20, 2, priority: 5)));
    }

    [Fact]
    public void SameSizeAndPriority_IsFirstRefusedFirstServed_SoSmallLaterTasksDoNotOvertake()
    {
        var gate = Gate();
        var running = gate.TryAdmit(Task(1, 1));
        Assert.Null(gate.TryAdmit(Task(2, 2))); // needs the whole node; waits
        _time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Null(gate.TryAdmit(Task(3, 1))); // would fit, but task 2 of the same priority is ahead
        running!.Dispose();
        Assert.Null(gate.TryAdmit(Task(3, 1)));
        Assert.NotNull(gate.TryAdmit(Task(2, 2)));
    }

    [Fact]
    public void AStarvingLargeTask_StopsAStreamOfSmallerHigherPriorityTasksWithinTheBound()
    {
        var gate = Gate();
        var small = new List<IDisposable?> { gate.TryAdmit(Task(100, 1, priority: 9)) };
        Assert.Null(gate.TryAdmit(Task(1, 2, priority: 0))); // large, low priority
        var next = 101;
        // Before the bound, higher-priority small tasks keep overtaking it as capacity allows.
        for (var t = 0; t < 9; t++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.Null(gate.TryAdmit(Task(1, 2, priority: 0)));
            small[0]?.Dispose();
            small[0] = gate.TryAdmit(Task(next++, 1, priority: 9));
            Assert.NotNull(small[0]);
        }
        // Past the bound it is starving (it kept asking, about once a second, as its re-scheduled job does): capacity is
        // reserved for it and new small tasks wait instead.
        for (var t = 0; t < CapacityGate.ReserveAfter.TotalSeconds - 9; t++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.Null(gate.TryAdmit(Task(1, 2, priority: 0)));
        }
        Assert.Null(gate.TryAdmit(Task(next++, 1, priority: 9)));
        small[0]!.Dispose();
        Assert.Null(gate.TryAdmit(Task(next++, 1, priority: 9)));
        Assert.NotNull(gate.TryAdmit(Task(1, 2, priority: 0)));
    }

    [Fact]
    public void AWaiterThatStopsAsking_IsForgotten_AndHoldsNoReservation()
    {
        var gate = Gate();
        var running = gate.TryAdmit(Task(1, 1));
        Assert.Null(gate.TryAdmit(Task(2, 2))); // then cancelled: never asks again
        running!.Dispose();
        _time.Advance(CapacityGate.ForgetAfter + TimeSpan.FromSeconds(1));
        Assert.NotNull(gate.TryAdmit(Task(3, 1)));
        Assert.Equal(0, gate.WaitingCount);
    }
}
