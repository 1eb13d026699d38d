using Taskdeck.Console.WorkTasks;
using Taskdeck.Core;
using Taskdeck.Core.Executions;

namespace Taskdeck.Unit.WorkTasks;

/// <summary>
/// The work-task API's <c>error_message</c>: "failed after N retries: &lt;last error&gt;" only for a task whose retries ran out
/// on a failure its policy retries (as RetryElection worded it before the wording moved to this adapter), and never twice
/// for records stored while Core still wrote the prefix.
/// </summary>
public sealed class WorkTaskShapeTests
{
    private static readonly RetryOptions Retry = new();

    private static Execution Failed(string error, int attempts, int maxRetries = 2, RetryPolicy policy = RetryPolicy.TransientOnly) => new()
    {
        State = ExecutionState.Failed, ErrorMessage = error, AttemptCount = attempts, MaxRetries = maxRetries, RetryPolicy = policy,
    };

    [Fact]
    public void ARetriedFailure_AfterTheLastRetry_SaysRetriesRanOut()
    {
        var e = Failed("pod trainer-0: OOMKilled", attempts: 3);
        Assert.Equal("failed after 2 retries: pod trainer-0: OOMKilled", WorkTaskShape.ErrorMessage(ExecutionState.Failed, e, Retry));
        var anyFailure = Failed("exit code 1", attempts: 3, policy: RetryPolicy.AnyFailure);
        Assert.Equal("failed after 2 retries: exit code 1", WorkTaskShape.ErrorMessage(ExecutionState.Failed, anyFailure, Retry));
    }

    // Two transient failures were retried, the third attempt failed on something the policy does not retry: that ended the
    // task as it is, not "retries ran out".
    [Fact]
    public void AFailureThePolicyDoesNotRetry_IsShownAsItIs_EvenAfterTheLastRetry()
    {
        var e = Failed("invalid pipeline spec", attempts: 3);
        Assert.Equal("invalid pipeline spec", WorkTaskShape.ErrorMessage(ExecutionState.Failed, e, Retry));
    }

    // Records that ended between 494d1fc and 2829c30 hold the worded error already.
    [Fact]
    public void AnErrorStoredWithThePrefix_IsNotPrefixedAgain()
    {
        var e = Failed("failed after 2 retries: OOMKilled again", attempts: 3);
        Assert.Equal("failed after 2 retries: OOMKilled again", WorkTaskShape.ErrorMessage(ExecutionState.Failed, e, Retry));
    }

    [Fact]
    public void BeforeTheLastRetry_OrWithoutRetries_TheErrorIsAsItIs()
    {
        Assert.Equal("OOMKilled", WorkTaskShape.ErrorMessage(ExecutionState.Failed, Failed("OOMKilled", attempts: 2), Retry));
        Assert.Equal("OOMKilled", WorkTaskShape.ErrorMessage(ExecutionState.Failed, Failed("OOMKilled", attempts: 1, maxRetries: 0), Retry));
        Assert.Equal("OOMKilled", WorkTaskShape.ErrorMessage(ExecutionState.TimedOut, Failed("OOMKilled", attempts: 3), Retry));
    }
}
