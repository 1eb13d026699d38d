using System.ComponentModel;
using Hangfire;

// The namespace stays where it was: Hangfire stores the job's type name, and jobs already queued in a durable storage
// must still resolve after an upgrade.
namespace Taskdeck.Core.Dispatch;

/// <summary>
/// The Hangfire job of one execution, run as a batch of one (the worker may go on with executions handed to it as it
/// ends). Hangfire's own retry is off: Core decides retries and keeps the attempt history.
/// </summary>
[AutomaticRetry(Attempts = 0, LogEvents = false, OnAttemptsExceeded = AttemptsExceededAction.Delete)]
public sealed class ExecutionJob(HangfireQueue.ExecutionBatchJob batch)
{
    /// <param name="executionId">The record to run; the job claims it by compare-and-set and does nothing if it loses.</param>
    /// <param name="shutdown">Hangfire passes the server's shutdown token here.</param>
    [DisplayName("Run execution {0}")]
    public Task RunAsync(long executionId, CancellationToken shutdown) => batch.RunOneAsync(executionId, shutdown);
}
