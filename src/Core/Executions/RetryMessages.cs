namespace Taskdeck.Core.Executions;

public static class RetryMessages
{
    /// <summary>
    /// The error a work task ends with when a failure its retries cover comes after the last retry: the work-task server's
    /// <c>failed after N retries: &lt;last error&gt;</c>, so the record says retrying was tried and given up.
    /// </summary>
    public static string Exhausted(int maxRetries, int attempt, string lastError) =>
        maxRetries > 0 && attempt > maxRetries ? $"failed after {attempt - 1} retries: {lastError}" : lastError;
}
