using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Executors;

/// <summary>
/// Decides whether this node may start an execution now (resource-aware admission). The returned lease is held
/// while the attempt runs; null means "not now": the runner puts the work back to wait and tries again shortly.
/// </summary>
public interface IAdmissionGate
{
    ValueTask<IDisposable?> TryAdmitAsync(Execution execution, CancellationToken ct);
}

/// <summary>Admits everything: the default until a capacity-aware gate is registered.</summary>
public sealed class AdmitAll : IAdmissionGate
{
    private sealed class NoLease : IDisposable { public void Dispose() { } }
    private static readonly IDisposable Lease = new NoLease();
    public ValueTask<IDisposable?> TryAdmitAsync(Execution execution, CancellationToken ct) => ValueTask.FromResult<IDisposable?>(Lease);
}
