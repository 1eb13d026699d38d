namespace Taskdeck.Core.Executions;

/// <summary>
/// Every state change an execution can take, by name. The table in <see cref="StateMachine"/> says where each may
/// start and where it lands; the store applies it as one compare-and-set, so a lost race is "not applied", never half.
/// </summary>
public enum Transition
{
    /// <summary>New record enters the queue (or Scheduled / Pending, see <see cref="StateMachine.SubmitTargets"/>).</summary>
    Submit,
    /// <summary>Its DAG parents all succeeded: Pending → Queued.</summary>
    Release,
    /// <summary>A worker takes it: opens a new attempt.</summary>
    Claim,
    Succeed,
    Fail,
    TimeOut,
    /// <summary>Failed for a reason the policy calls transient, retries remain: back to Scheduled with a back-off.</summary>
    RetryLater,
    /// <summary>Cancel of work that has not started.</summary>
    CancelWaiting,
    /// <summary>Cancel of running work: the worker must observe it.</summary>
    RequestCancel,
    /// <summary>The worker stopped the work (or the worker is gone) after a cancel request.</summary>
    ConfirmCancel,
    /// <summary>The worker's lease expired while it ran the work, and no retry remains.</summary>
    MarkLost,
    /// <summary>The host stopped gracefully while the work ran: back to the queue, the attempt closed as interrupted.</summary>
    Interrupt,
    /// <summary>The queue deadline passed before a worker took it.</summary>
    Expire,
    /// <summary>An operator (or a DAG restart) sends a finished record back to the queue.</summary>
    Retry,
    /// <summary>A DAG restart sends a finished record back to wait for its parents.</summary>
    Rewait,
    /// <summary>An external worker (work-task API) reports it started: Queued/Scheduled → Running without a Hangfire job.</summary>
    ReportStarted,
    /// <summary>
    /// The worker's lease expired while it ran the work and retries remain: the attempt closes as lost and the record
    /// waits out its back-off, in one step (see <see cref="RetryElection"/>).
    /// </summary>
    RetryLost,
}
