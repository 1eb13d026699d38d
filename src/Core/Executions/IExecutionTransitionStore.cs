namespace Taskdeck.Core.Executions;

/// <summary>
/// New records and their state changes: what the one state machine (<see cref="ExecutionTransitions"/>) writes. Every state
/// change is a compare-and-set (<c>UPDATE … WHERE Id = @id AND State IN (@from)</c>) applied atomically with its attempt and
/// history rows. Writes about one execution, through this store or <see cref="Executors.IAttemptOutputStore"/>, are applied in
/// the order they were issued: one issued before another is never committed after it (the runner relies on this to have an
/// attempt's last log lines stored no later than its closing transition). Writes about different executions may commit in
/// any order (a network database commits on several connections at once).
/// </summary>
public interface IExecutionTransitionStore
{
    /// <summary>Stores new records (with their first history row) and returns their ids, in order.</summary>
    Task<IReadOnlyList<long>> InsertAsync(IReadOnlyList<(NewExecution Spec, ExecutionState State)> items, DateTimeOffset at, string nodeId, CancellationToken ct = default);

    /// <summary>
    /// Stores the records with the schedule firing that starts them, in one transaction; null (and nothing stored) when
    /// the firing's (schedule, slot) was already handled.
    /// </summary>
    Task<IReadOnlyList<long>?> InsertClaimedAsync(Schedules.SlotClaim claim, IReadOnlyList<(NewExecution Spec, ExecutionState State)> items, DateTimeOffset at,
        string nodeId, CancellationToken ct = default);

    Task<TransitionResult> ApplyAsync(TransitionCommand command, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>
    /// Two transitions of one record written in one commit, <paramref name="first"/> first, each its own compare-and-set
    /// with its own result. Should their commit fail, each is tried again on its own, so one may apply without the other.
    /// </summary>
    (Task<TransitionResult> First, Task<TransitionResult> Second) ApplyTogether(TransitionCommand first, TransitionCommand second, DateTimeOffset at,
        CancellationToken ct = default);

    /// <summary>
    /// One transition applied to many records as set-based statements in one transaction (<c>UPDATE … WHERE Id IN (…)
    /// AND State = @from</c> per state the rule starts from, with their history rows): only transitions that neither open
    /// nor close an attempt (see <see cref="StateMachine.IsSetBased"/>). Answers the records it changed; the others were
    /// in a state the rule does not start from (a lost race is "not applied", as for one record).
    /// </summary>
    Task<IReadOnlyList<BatchTransitioned>> ApplyManyAsync(TransitionCommand template, IReadOnlyList<long> ids, DateTimeOffset at, CancellationToken ct = default);
}

/// <summary>A record a set-based transition changed: where it came from, and what dispatching it again needs.</summary>
public sealed record BatchTransitioned(long Id, ExecutionState From, int AttemptCount, long? DagRunId, string? HangfireJobId, int Priority, ExecutorKind Kind);
