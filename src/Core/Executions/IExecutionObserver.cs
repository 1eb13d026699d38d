namespace Taskdeck.Core.Executions;

/// <summary>
/// Features that react to a state change at once (DAG scheduling releases children, work tasks notify) implement
/// this; <see cref="ExecutionTransitions"/> calls every observer after each applied transition, in order.
/// </summary>
public interface IExecutionObserver
{
    Task OnTransitionedAsync(TransitionResult result, CancellationToken ct);

    /// <summary>
    /// Many records changed by one set-based transition (a bulk act's batch). By default each is observed in turn; an
    /// observer whose reaction is per run rather than per record (DAG state) overrides it to react once.
    /// </summary>
    async Task OnTransitionedManyAsync(IReadOnlyList<TransitionResult> results, CancellationToken ct)
    {
        foreach (var result in results) await OnTransitionedAsync(result, ct);
    }
}
