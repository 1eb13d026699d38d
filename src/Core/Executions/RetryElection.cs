using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Executions;

/// <summary>
/// The one decision of what an attempt that did not succeed leads to, whichever path ended it — a runner's failure or
/// timeout, a work-task worker's report, a lease lost with its node: while retries remain and the policy retries that
/// kind of end, the record goes back to wait out the back-off in the same transition that closes the attempt (so no
/// crash can leave it ended with retries to go); otherwise it takes the ending itself. A retry chosen here is recorded
/// as the system's (RetryLater, RetryLost), never as an operator's Retry.
/// </summary>
public sealed class RetryElection(IOptions<TaskdeckOptions> options)
{
    private RetryOptions Retry => options.Value.Retry;

    /// <summary>The attempt failed (<see cref="Transition.Fail"/>) or ran out of time (<see cref="Transition.TimeOut"/>).</summary>
    public TransitionCommand AfterFailure(Execution execution, int attempt, Transition ending, string error, int? rc = null)
    {
        if (Retries(execution, error, Retry) && attempt <= execution.MaxRetries)
        {
            var delay = Delay(execution, attempt, Retry);
            return new TransitionCommand(execution.Id, Transition.RetryLater)
            {
                RunAfter = delay, ErrorMessage = error, Rc = rc,
                Reason = $"{error}; retry {attempt} of {execution.MaxRetries} in {delay.TotalSeconds:0.###} s",
            };
        }
        return new TransitionCommand(execution.Id, ending) { ErrorMessage = error, Reason = error, Rc = rc };
    }

    /// <summary>
    /// The node running the attempt stopped holding its lease (it died, or lost the database for longer than a lease):
    /// the work did not fail, so any task with retries left runs again, whatever its policy says of failures.
    /// </summary>
    public TransitionCommand AfterLostLease(Execution execution, int attempt)
    {
        const string error = "worker lost";
        if (attempt > execution.MaxRetries)
            return new TransitionCommand(execution.Id, Transition.MarkLost) { ErrorMessage = error, Reason = "its worker's lease expired" };
        var delay = Delay(execution, attempt, Retry);
        return new TransitionCommand(execution.Id, Transition.RetryLost)
        {
            RunAfter = delay, ErrorMessage = error,
            Reason = $"its worker's lease expired; retry {attempt} of {execution.MaxRetries} in {delay.TotalSeconds:0.###} s",
        };
    }

    /// <summary>An error that names one of <see cref="RetryOptions.TransientErrors"/>: retried under either policy.</summary>
    public bool IsTransient(string error) => IsTransient(error, Retry);

    private static bool IsTransient(string error, RetryOptions retry) => retry.TransientErrors.Any(t => error.Contains(t, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether the execution's policy retries a failure with this error, while retries remain.</summary>
    public static bool Retries(Execution execution, string error, RetryOptions retry) =>
        execution.RetryPolicy == RetryPolicy.AnyFailure || IsTransient(error, retry);

    /// <summary>
    /// Whether the record's failure (its error, on its current attempt) came after its last retry and is one its policy
    /// retries: retrying was tried and given up. A failure the policy does not retry ends the record as it is, whichever
    /// attempt it came on.
    /// </summary>
    public static bool GaveUp(Execution execution, RetryOptions retry) =>
        execution.ErrorMessage is { } error && execution.MaxRetries > 0 && execution.AttemptCount > execution.MaxRetries
        && Retries(execution, error, retry);

    /// <summary>
    /// The task's own interval (doubled per attempt when exponential), never less than the floor that grows past
    /// <see cref="RetryOptions.ImmediateRetries"/>, never more than <see cref="RetryOptions.MaxBackoffSeconds"/>.
    /// </summary>
    public static TimeSpan Delay(Execution execution, int attempt, RetryOptions retry)
    {
        var seconds = (double)execution.RetryIntervalSeconds;
        if (execution.ExponentialBackoff) seconds *= Math.Pow(2, Math.Min(62, Math.Max(0, attempt - 1)));
        var beyond = attempt - retry.ImmediateRetries;
        if (beyond > 0) seconds = Math.Max(seconds, retry.MinimumBackoffSeconds * Math.Pow(2, Math.Min(62, beyond - 1)));
        return TimeSpan.FromSeconds(Math.Min(seconds, retry.MaxBackoffSeconds));
    }
}
