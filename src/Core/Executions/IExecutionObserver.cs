namespace Taskdeck.Core.Executions;

/// <summary>
/// Features that react to a state change at once (DAG scheduling releases children, work tasks notify) implement
/// this; <see cref="ExecutionTransitions"/> calls every observer after each applied transition, in order.
/// </summary>
public interface IExecutionObserver
{
    Task OnTransitionedAsync(TransitionResult result, CancellationToken ct);
}
