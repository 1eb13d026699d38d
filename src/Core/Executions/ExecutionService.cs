using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Limits;

namespace Taskdeck.Core.Executions;

/// <summary>A submission that cannot be accepted: names the field at fault, and the setting when a limit refused it.</summary>
public sealed class InvalidSubmissionException(string field, string message, string? limit = null) : Exception(message)
{
    public string Field { get; } = field;
    /// <summary>The configuration key of the limit that refused it (<c>Taskdeck:Limits:MaxRetries</c>), if one did.</summary>
    public string? Limit { get; } = limit;
}

public enum ActionStatus { Done, NotFound, Conflict }

/// <summary>What an operator action did; a conflict names the state that refused it.</summary>
public sealed record ActionOutcome(ActionStatus Status, long ExecutionId, ExecutionState? State, string Message)
{
    public bool Done => Status == ActionStatus.Done;
    /// <summary>The same action had already been taken (a second cancel of a record already cancelling).</summary>
    public bool AlreadyRequested { get; init; }
}

/// <summary>
/// What people and automation do to executions: submit, cancel, retry, reset, delete. Pages and endpoints call
/// this; it changes states only through <see cref="ExecutionTransitions"/>. Each act a caller names an
/// <see cref="Actor"/> for is written to the audit trail here, once, whether it came from the API or the console, and
/// the state changes it makes carry the actor's name ("by alice").
/// </summary>
public sealed class ExecutionService(
    IExecutionReader store,
    IExecutionDeleter deleter,
    ExecutionTransitions transitions,
    ExecutionDispatcher dispatcher,
    DispatchBacklog backlog,
    TaskHandlerRegistry handlers,
    ExecutionEvents events,
    NodeCapacity capacity,
    IOptions<TaskdeckOptions> options,
    IAuditTrail audit,
    TimeProvider time,
    ILogger<ExecutionService> logger)
{
    public void Validate(NewExecution spec)
    {
        // Limits first: a 100,000-character or NUL-bearing name is refused as such, not echoed back as "no such handler".
        CheckLimits(spec);
        switch (spec.Kind)
        {
            case ExecutorKind.Handler when string.IsNullOrWhiteSpace(spec.Name):
                throw new InvalidSubmissionException("task", "Name a registered handler.");
            case ExecutorKind.Handler when !handlers.Contains(spec.Name):
                throw new InvalidSubmissionException("task", $"No handler named '{spec.Name}' is registered (known: {string.Join(", ", handlers.Names)}).");
            case ExecutorKind.Command when spec.Command.Count == 0 || string.IsNullOrWhiteSpace(spec.Command[0]):
                throw new InvalidSubmissionException("command", "The command is empty: its first argument is the executable's absolute path.");
            case ExecutorKind.Command when CommandDoor.CheckExecutable(options.Value.Commands, spec.Command[0], out _) is { } refused:
                throw new InvalidSubmissionException("command", refused);
        }
        if (CommandDoor.CheckEnvironment(options.Value.Commands, spec.Environment) is { } denied)
            throw new InvalidSubmissionException("environment", denied.Error);
        if (Secrets.SecretText.FirstUnknown(options.Value.Secrets, spec.Environment) is { } unknownInEnvironment)
            throw new InvalidSubmissionException("environment", UnknownSecret(unknownInEnvironment));
        if (Secrets.SecretText.FirstUnknown(options.Value.Secrets, spec.Command) is { } unknownInCommand)
            throw new InvalidSubmissionException("command", UnknownSecret(unknownInCommand));
        if (spec.Kind == ExecutorKind.Command && CommandDoor.CheckWorkingDirectory(options.Value.Commands, spec.WorkingDirectory) is { } outside)
            throw new InvalidSubmissionException("workingDirectory", outside);
        if (spec.MaxRetries < 0) throw new InvalidSubmissionException("maxRetries", "Must be 0 or more.");
        if (spec.RetryIntervalSeconds < 0) throw new InvalidSubmissionException("retryIntervalSeconds", "Must be 0 or more.");
        if (spec.TimeoutSeconds is <= 0) throw new InvalidSubmissionException("timeoutSeconds", "Must be more than 0.");
        if (spec.Cores < 0 || double.IsNaN(spec.Cores)) throw new InvalidSubmissionException("cores", "Must be 0 or more.");
        if (spec.MemoryMB < 0) throw new InvalidSubmissionException("memoryMB", "Must be 0 or more.");
        if (spec.Gpus < 0) throw new InvalidSubmissionException("gpus", "Must be 0 or more.");
        if (string.IsNullOrWhiteSpace(spec.Queue)) throw new InvalidSubmissionException("queue", "Must not be empty.");
        if (spec.ArgumentsJson is { } json)
        {
            try { using var _ = System.Text.Json.JsonDocument.Parse(json); }
            catch (System.Text.Json.JsonException e) { throw new InvalidSubmissionException("args", $"Not valid JSON: {e.Message}"); }
        }
    }

    /// <summary>A <c>{{secret:NAME}}</c> no configuration provides: refused now rather than failing at process start.</summary>
    public static string UnknownSecret(string name) =>
        $"Unknown secret '{name}': {{{{secret:{name}}}}} needs {Secrets.SecretOptions.ValueKey(name)} in the server's configuration.";

    /// <summary>Every bound of <see cref="LimitOptions"/> that one record can break, each naming its setting.</summary>
    private void CheckLimits(NewExecution spec)
    {
        var limits = options.Value.Limits;
        static void Refuse(string field, string message, string setting) =>
            throw new InvalidSubmissionException(field, $"{message} ({LimitOptions.Key(setting)})", LimitOptions.Key(setting));
        if (spec.MaxRetries > limits.MaxRetries)
            Refuse("maxRetries", $"maxRetries is {spec.MaxRetries}; at most {limits.MaxRetries} are allowed.", nameof(limits.MaxRetries));
        if (spec.RetryIntervalSeconds > limits.MaxRetryIntervalSeconds)
            Refuse("retryIntervalSeconds", $"retryIntervalSeconds is {spec.RetryIntervalSeconds}; at most {limits.MaxRetryIntervalSeconds} is allowed.", nameof(limits.MaxRetryIntervalSeconds));
        if (spec.TimeoutSeconds > limits.MaxTimeoutSeconds)
            Refuse("timeoutSeconds", $"timeoutSeconds is {spec.TimeoutSeconds}; at most {limits.MaxTimeoutSeconds} is allowed.", nameof(limits.MaxTimeoutSeconds));
        if (spec.RunAt is { } runAt && runAt > time.GetUtcNow().AddDays(limits.RunAtHorizonDays))
            Refuse("runAt", $"runAt {runAt:O} is more than {limits.RunAtHorizonDays} days ahead.", nameof(limits.RunAtHorizonDays));
        if (spec.ExpiresAt is { } expiresAt && expiresAt > time.GetUtcNow().AddDays(limits.RunAtHorizonDays))
            Refuse("queueTimeoutSeconds", $"The queue deadline is more than {limits.RunAtHorizonDays} days ahead.", nameof(limits.RunAtHorizonDays));
        var field = spec.Kind == ExecutorKind.Command ? "command" : "task";
        if (TextRules.NameProblem(spec.Name, limits.MaxNameLength, spec.Kind == ExecutorKind.Command ? "The executable" : "The task name") is { } nameProblem)
            Refuse(field, nameProblem, nameof(limits.MaxNameLength));
        if (TextRules.NameProblem(spec.Queue, limits.MaxNameLength, "The queue name") is { } queueProblem)
            Refuse("queue", queueProblem, nameof(limits.MaxNameLength));
        if (spec.DagTaskName is { } dagTask && TextRules.NameProblem(dagTask, limits.MaxNameLength, "The DAG task name") is { } taskProblem)
            Refuse("tasks", taskProblem, nameof(limits.MaxNameLength));
        if (spec.Tags.Count > limits.MaxTags)
            Refuse("tags", $"{spec.Tags.Count} tags; at most {limits.MaxTags} are allowed.", nameof(limits.MaxTags));
        foreach (var tag in spec.Tags)
        {
            if (string.IsNullOrWhiteSpace(tag)) Refuse("tags", "A tag is empty.", nameof(limits.MaxTagLength));
            if (TextRules.NameProblem(tag, limits.MaxTagLength, "A tag") is { } tagProblem) Refuse("tags", tagProblem, nameof(limits.MaxTagLength));
        }
        if (TagText.Encode(spec.Tags).Length > TagText.MaxLength)
            Refuse("tags", $"The tags take {TagText.Encode(spec.Tags).Length} characters stored; at most {TagText.MaxLength} fit.", nameof(limits.MaxTags));
        if (spec.Command.Any(TextRules.HasNul)) throw new InvalidSubmissionException("command", "A command argument holds a NUL character.");
        if (spec.Environment.Any(TextRules.HasNul)) throw new InvalidSubmissionException("environment", "An environment entry holds a NUL character.");
        long size = (spec.ArgumentsJson?.Length ?? 0) + (spec.WorkingDirectory?.Length ?? 0);
        foreach (var part in spec.Command) size += part.Length;
        foreach (var part in spec.Environment) size += part.Length;
        if (size > limits.MaxSpecBytes)
            Refuse(spec.Kind == ExecutorKind.Command ? "command" : "args", $"The arguments, command and environment hold {size} characters; at most {limits.MaxSpecBytes} are allowed.", nameof(limits.MaxSpecBytes));
    }

    /// <summary>A submission someone asked for: recorded in the audit trail, refused ones included.</summary>
    public async Task<Execution> SubmitAsync(NewExecution spec, Actor actor, CancellationToken ct = default) =>
        (await SubmitManyAsync([spec], actor, ct))[0];

    /// <summary>A batch someone asked for: one audit entry naming every record.</summary>
    public async Task<IReadOnlyList<Execution>> SubmitManyAsync(IReadOnlyList<NewExecution> specs, Actor actor, CancellationToken ct = default)
    {
        IReadOnlyList<Execution> stored;
        try
        {
            stored = await SubmitManyAsync(specs, beforeDispatch: null, ct);
        }
        catch (InvalidSubmissionException e)
        {
            await audit.RecordAsync(new AuditRecord(actor, AuditActions.SubmitExecution, AuditOutcome.Refused)
            {
                RecordType = AuditRecordTypes.Execution, Reason = $"{e.Field}: {e.Message}",
            }, ct);
            throw;
        }
        await audit.RecordAsync(new AuditRecord(actor, AuditActions.SubmitExecution, AuditOutcome.Applied)
        {
            RecordType = AuditRecordTypes.Execution, RecordIds = stored.Select(e => Id(e.Id)).ToList(), Count = stored.Count,
            Reason = Describe(specs),
        }, ct);
        return stored;
    }

    /// <summary>The engine's own submissions (DAG tasks, generator output, work tasks' executions): not audited here.</summary>
    public async Task<Execution> SubmitAsync(NewExecution spec, CancellationToken ct = default) =>
        (await SubmitManyAsync([spec], beforeDispatch: null, ct))[0];

    /// <inheritdoc cref="SubmitAsync(NewExecution, CancellationToken)"/>
    public Task<IReadOnlyList<Execution>> SubmitManyAsync(IReadOnlyList<NewExecution> specs, CancellationToken ct = default) =>
        SubmitManyAsync(specs, beforeDispatch: null, ct);

    private static string Describe(IReadOnlyList<NewExecution> specs)
    {
        static string One(NewExecution s) => s.Kind == ExecutorKind.Command ? $"command {s.Name}" : s.Name;
        var names = specs.Select(One).Distinct().ToList();
        return names.Count <= 3 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(3))} and {names.Count - 3} more";
    }

    /// <summary>
    /// Stores all, then dispatches those that are due; a record is durable before its job exists. A big submission's
    /// jobs are created just after the answer (<see cref="DispatchBacklog"/>).
    /// </summary>
    /// <param name="beforeDispatch">Runs after the records are stored and before any job exists: a feature stores its own rows
    /// beside them (a work task's fields) so that no worker can see the execution without them.</param>
    public async Task<IReadOnlyList<Execution>> SubmitManyAsync(IReadOnlyList<NewExecution> specs,
        Func<IReadOnlyList<Execution>, CancellationToken, Task>? beforeDispatch, CancellationToken ct = default) =>
        (await SubmitManyAsync(specs, beforeDispatch, null, ct))!;

    /// <summary>
    /// A schedule's run for one slot: stored in the same transaction as the slot's firing row, so two nodes (or a node
    /// restarting mid-firing) never start a slot twice. Null when the slot was already handled; nothing is stored then.
    /// </summary>
    public async Task<Execution?> SubmitForSlotAsync(NewExecution spec, Schedules.SlotClaim claim, CancellationToken ct = default) =>
        (await SubmitManyAsync([spec with { ScheduleName = claim.ScheduleName, ScheduleSlot = claim.Slot }], null, claim, ct))?[0];

    private async Task<IReadOnlyList<Execution>?> SubmitManyAsync(IReadOnlyList<NewExecution> specs,
        Func<IReadOnlyList<Execution>, CancellationToken, Task>? beforeDispatch, Schedules.SlotClaim? claim, CancellationToken ct)
    {
        foreach (var spec in specs) Validate(spec);
        // Work no node could ever admit would wait forever: refuse it now. External work runs elsewhere.
        foreach (var need in specs.Where(s => s.Kind != ExecutorKind.External).Select(s => new ResourceNeed(s.Cores, s.MemoryMB, s.Gpus)).Distinct())
            if (await capacity.WhyNoNodeFitsAsync(need, ct) is { } why)
                throw new InvalidSubmissionException("resources", why);
        var now = time.GetUtcNow();
        // Time-ordered ids: the unique index on TaskId then grows at its end instead of splitting pages at random.
        var items = specs.Select(s => (s with { TaskId = s.TaskId ?? Guid.CreateVersion7().ToString() }, InitialState(s, now))).ToList();
        var ids = await transitions.InsertAsync(items, claim, ct);
        if (ids is null) return null;
        var stored = new List<Execution>(ids.Count);
        var due = new List<(long, int, DateTimeOffset?)>(ids.Count);
        for (var i = 0; i < ids.Count; i++)
            stored.Add(ToExecution(ids[i], items[i].Item1, items[i].Item2, now));
        if (beforeDispatch is not null) await beforeDispatch(stored, ct);
        for (var i = 0; i < ids.Count; i++)
        {
            var (spec, state) = items[i];
            if (spec.Kind != ExecutorKind.External && state is ExecutionState.Queued or ExecutionState.Scheduled)
                due.Add((ids[i], spec.Priority, spec.RunAt));
        }
        if (due.Count > DispatchBacklog.InlineLimit) backlog.Add(due);
        else
        {
            try
            {
                await dispatcher.DispatchManyAsync(due, now, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Stored is accepted: the records are durable and waiting, so the submitter hears so, whatever the dispatch
                // threw. Refusing here would make a client send again work that will run (twice, then). Their jobs are made
                // just after the answer instead, or by the reconciler if that fails too. A failure other than the job store
                // being out of reach is a defect: logged as one, not answered as one.
                // Only the records still without a job: the groups dispatched before the failure keep the one they got.
                var left = e is DispatchIncompleteException incomplete
                    ? due.Where(d => incomplete.WithoutJob.Contains(d.Item1)).ToList()
                    : due;
                if (dispatcher.IsUnavailable(e))
                    logger.LogWarning(e, "Creating the jobs of {Count} submitted executions failed (job store unavailable); they are dispatched later", left.Count);
                else
                    logger.LogError(e, "Creating the jobs of {Count} submitted executions failed unexpectedly; the submission is accepted and they are dispatched later", left.Count);
                if (left.Count > 0) backlog.Add(left);
            }
        }
        return stored;
    }

    private static ExecutionState InitialState(NewExecution spec, DateTimeOffset now) =>
        spec.WaitForParents ? ExecutionState.Pending
        : spec.RunAt is { } at && at > now ? ExecutionState.Scheduled
        : ExecutionState.Queued;

    /// <summary>Cancels one execution at someone's request; audited.</summary>
    public async Task<ActionOutcome> CancelAsync(long id, Actor actor, string? reason = null, CancellationToken ct = default)
    {
        var outcome = await CancelCoreAsync(id, reason, actor.HistoryName, ct);
        await AuditAsync(actor, AuditActions.Cancel, [outcome], ct);
        return outcome;
    }

    /// <summary>Cancels each of <paramref name="ids"/> in turn; one audit entry for the whole act.</summary>
    public Task<IReadOnlyList<ActionOutcome>> CancelManyAsync(IReadOnlyList<long> ids, Actor actor, string? reason = null, CancellationToken ct = default) =>
        ActOnEachAsync(ids, actor, AuditActions.Cancel, (id, token) => CancelCoreAsync(id, reason, actor.HistoryName, token), ct);

    /// <summary>Cancel without an audit entry of its own: part of a larger act (a DAG kill) or a worker's report.</summary>
    /// <param name="by">The name kept beside the state change; null for the engine's own.</param>
    internal async Task<ActionOutcome> CancelCoreAsync(long id, string? reason, string? by, CancellationToken ct)
    {
        var execution = await store.FindAsync(id, ct);
        if (execution is null) return NotFound(id);
        switch (execution.State)
        {
            case var s when s.IsWaiting():
            {
                var result = await transitions.ApplyAsync(new TransitionCommand(id, Transition.CancelWaiting) { Reason = reason ?? "cancelled before it started", ActorName = by }, ct);
                if (result.Applied) return Done(id, ExecutionState.Cancelled, "Cancelled.");
                // It started between our read and the CAS: cancel it as running work instead.
                return result.FoundState is ExecutionState.Running ? await CancelCoreAsync(id, reason, by, ct) : Refused(result);
            }
            case ExecutionState.Running:
            {
                var result = await transitions.ApplyAsync(new TransitionCommand(id, Transition.RequestCancel) { Reason = reason ?? "cancel requested", ActorName = by }, ct);
                if (!result.Applied) return result.FoundState is { } found && found.IsTerminal() ? Refused(result) : await CancelCoreAsync(id, reason, by, ct);
                return Done(id, ExecutionState.Cancelling, "Cancel requested; the worker is stopping it.");
            }
            case ExecutionState.Cancelling:
                return Done(id, ExecutionState.Cancelling, "Cancellation was already requested.") with { AlreadyRequested = true };
            default:
                return new ActionOutcome(ActionStatus.Conflict, id, execution.State, $"Execution {id} is {execution.State}; only waiting or running work can be cancelled.");
        }
    }

    /// <summary>Sends one finished execution back to the queue at someone's request; audited.</summary>
    public async Task<ActionOutcome> RetryAsync(long id, Actor actor, string? reason = null, CancellationToken ct = default)
    {
        var outcome = await RetryCoreAsync(id, reason, actor.HistoryName, ct);
        await AuditAsync(actor, AuditActions.Retry, [outcome], ct);
        return outcome;
    }

    /// <summary>Retries each of <paramref name="ids"/> in turn; one audit entry for the whole act.</summary>
    public Task<IReadOnlyList<ActionOutcome>> RetryManyAsync(IReadOnlyList<long> ids, Actor actor, string? reason = null, CancellationToken ct = default) =>
        ActOnEachAsync(ids, actor, AuditActions.Retry, (id, token) => RetryCoreAsync(id, reason, actor.HistoryName, token), ct);

    /// <summary>Retry without an audit entry of its own: part of a larger act (a reset, a DAG restart).</summary>
    internal async Task<ActionOutcome> RetryCoreAsync(long id, string? reason, string? by, CancellationToken ct)
    {
        var result = await transitions.ApplyAsync(new TransitionCommand(id, Transition.Retry) { Reason = reason ?? "retried by request", ActorName = by }, ct);
        if (result.NotFound) return NotFound(id);
        if (!result.Applied) return Refused(result);
        return Done(id, ExecutionState.Queued, "Queued for a new attempt.");
    }

    /// <summary>
    /// The bulk form of retry: every retryable record matching the filter goes back to the queue. One audit entry
    /// keeps the filter, how many matched and how many were reset.
    /// </summary>
    public async Task<int> ResetAsync(ExecutionFilter filter, Actor actor, CancellationToken ct = default)
    {
        IReadOnlyList<long> ids = filter.Resettable() is { } resettable ? await store.FindIdsAsync(resettable, int.MaxValue, ct) : [];
        var reset = new System.Collections.Concurrent.ConcurrentBag<long>();
        await Concurrently.ForEachAsync(ids, async (id, token) =>
        {
            if ((await RetryCoreAsync(id, "reset by filter", actor.HistoryName, token)).Done) reset.Add(id);
        }, ct);
        var outcome = reset.Count == ids.Count ? AuditOutcome.Applied : AuditRecord.OutcomeOf(reset.Count, ids.Count);
        await audit.RecordAsync(new AuditRecord(actor, AuditActions.Reset, outcome)
        {
            RecordType = AuditRecordTypes.Execution, RecordIds = reset.Order().Select(Id).ToList(), Count = reset.Count, Filter = filter.ToJson(),
            Reason = reset.Count == ids.Count ? $"{ids.Count} matched" : $"{ids.Count} matched; {ids.Count - reset.Count} changed state meanwhile and were left as they were",
        }, ct);
        return reset.Count;
    }

    /// <summary>How many records a reset with this filter would touch now.</summary>
    public async Task<int> CountResettableAsync(ExecutionFilter filter, CancellationToken ct = default) =>
        filter.Resettable() is { } resettable ? await store.CountAsync(resettable, ct) : 0;

    /// <summary>
    /// Deletes a finished execution at someone's request; a waiting one is cancelled first and deleted at once (as django-ray
    /// deletes queued work). Running work is refused: deleting it without stopping it is the Hangfire behaviour operators
    /// complain about. The audit entry outlives the execution.
    /// </summary>
    public async Task<ActionOutcome> DeleteAsync(long id, Actor actor, CancellationToken ct = default)
    {
        var outcome = await DeleteCoreAsync(id, actor.HistoryName, ct);
        await AuditAsync(actor, AuditActions.Delete, [outcome], ct);
        return outcome;
    }

    /// <summary>Deletes each of <paramref name="ids"/> in turn; one audit entry for the whole act.</summary>
    public Task<IReadOnlyList<ActionOutcome>> DeleteManyAsync(IReadOnlyList<long> ids, Actor actor, CancellationToken ct = default) =>
        ActOnEachAsync(ids, actor, AuditActions.Delete, (id, token) => DeleteCoreAsync(id, actor.HistoryName, token), ct);

    private async Task<ActionOutcome> DeleteCoreAsync(long id, string? by, CancellationToken ct)
    {
        var current = await store.FindAsync(id, ct);
        if (current is null) return NotFound(id);
        if (current.State.IsWaiting())
        {
            var cancelled = await CancelCoreAsync(id, "cancelled to be deleted", by, ct);
            // It started between our read and the cancel: it is now being cancelled as running work, so it stays.
            if (!(cancelled.Done && cancelled.State == ExecutionState.Cancelled)) return Refused(id, cancelled.State);
        }
        var (deleted, found) = await deleter.DeleteTerminalAsync(id, ct);
        if (found is null) return NotFound(id);
        if (!deleted) return Refused(id, found);
        events.Publish(new ExecutionDeleted(id, time.GetUtcNow()));
        return Done(id, found.Value, "Deleted.");

        static ActionOutcome Refused(long id, ExecutionState? state) => new(ActionStatus.Conflict, id, state,
            $"Execution {id} is {state}; running work is not deleted while it runs: cancel it first, then delete it once it has stopped.");
    }

    private async Task<IReadOnlyList<ActionOutcome>> ActOnEachAsync(IReadOnlyList<long> ids, Actor actor, string action,
        Func<long, CancellationToken, Task<ActionOutcome>> act, CancellationToken ct)
    {
        var outcomes = new List<ActionOutcome>(ids.Count);
        try
        {
            foreach (var id in ids) outcomes.Add(await act(id, ct));
        }
        finally
        {
            // What was done before a failure is still recorded.
            if (outcomes.Count > 0) await AuditAsync(actor, action, outcomes, ct);
        }
        return outcomes;
    }

    /// <summary>One entry for an act on these records: applied when all were done, refused when none, else partial.</summary>
    private Task AuditAsync(Actor actor, string action, IReadOnlyList<ActionOutcome> outcomes, CancellationToken ct)
    {
        var done = outcomes.Count(o => o.Done);
        var refused = outcomes.Where(o => !o.Done).Select(o => o.Message).ToList();
        return audit.RecordAsync(new AuditRecord(actor, action, AuditRecord.OutcomeOf(done, outcomes.Count))
        {
            RecordType = AuditRecordTypes.Execution, RecordIds = outcomes.Select(o => Id(o.ExecutionId)).ToList(), Count = done,
            Reason = refused.Count == 0 ? null : refused.Count <= 3 ? string.Join(" ", refused) : $"{string.Join(" ", refused.Take(3))} ({refused.Count - 3} more refused)",
        }, ct);
    }

    private static string Id(long id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static ActionOutcome Done(long id, ExecutionState state, string message) => new(ActionStatus.Done, id, state, message);
    private static ActionOutcome NotFound(long id) => new(ActionStatus.NotFound, id, null, $"Execution {id} does not exist.");
    private static ActionOutcome Refused(TransitionResult r) =>
        r.NotFound ? NotFound(r.ExecutionId) : new(ActionStatus.Conflict, r.ExecutionId, r.FoundState, r.Describe());

    private static Execution ToExecution(long id, NewExecution s, ExecutionState state, DateTimeOffset now) => new()
    {
        Id = id, TaskId = s.TaskId!, Kind = s.Kind, Name = s.Name, ArgumentsJson = s.ArgumentsJson, Command = [.. s.Command], Environment = [.. s.Environment],
        WorkingDirectory = s.WorkingDirectory, Queue = s.Queue, Priority = s.Priority, State = state, MaxRetries = s.MaxRetries,
        RetryIntervalSeconds = s.RetryIntervalSeconds, ExponentialBackoff = s.ExponentialBackoff, RetryPolicy = s.RetryPolicy,
        TimeoutSeconds = s.TimeoutSeconds, RunAt = s.RunAt, ExpiresAt = s.ExpiresAt, CreatedAt = now, UpdatedAt = now, Tags = [.. s.Tags],
        DagRunId = s.DagRunId, DagTaskName = s.DagTaskName, IsGenerator = s.IsGenerator, Cores = s.Cores, MemoryMB = s.MemoryMB, Gpus = s.Gpus,
        ScheduleName = s.ScheduleName, ScheduleSlot = s.ScheduleSlot,
    };
}
