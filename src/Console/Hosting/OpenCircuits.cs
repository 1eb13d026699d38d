using Microsoft.AspNetCore.Components.Server.Circuits;

namespace Taskdeck.Console.Hosting;

/// <summary>
/// How many console circuits are open, and how many closed since the memory was last given back. A closed page leaves its
/// circuit's objects (components, rendered trees, live rows) as garbage the GC keeps until a full collection, which a node
/// that goes quiet never triggers by itself; <see cref="IdleMemoryTrimmer"/> reads this to collect once the pages are gone.
/// </summary>
public sealed class OpenCircuits
{
    private int _open;
    private int _closedSinceTrim;

    public int Open => Volatile.Read(ref _open);

    public int ClosedSinceTrim => Volatile.Read(ref _closedSinceTrim);

    internal void Opened() => Interlocked.Increment(ref _open);

    internal void Closed()
    {
        Interlocked.Decrement(ref _open);
        Interlocked.Increment(ref _closedSinceTrim);
    }

    /// <summary>The trimmer gave the memory back: closings count from here.</summary>
    internal void Trimmed() => Interlocked.Exchange(ref _closedSinceTrim, 0);

    /// <summary>One per circuit (Blazor resolves circuit handlers in the circuit's scope): tells the node-wide count.</summary>
    internal sealed class Tracker(OpenCircuits circuits) : CircuitHandler
    {
        public override Task OnCircuitOpenedAsync(Circuit circuit, CancellationToken cancellationToken)
        {
            circuits.Opened();
            return Task.CompletedTask;
        }

        public override Task OnCircuitClosedAsync(Circuit circuit, CancellationToken cancellationToken)
        {
            circuits.Closed();
            return Task.CompletedTask;
        }
    }
}
