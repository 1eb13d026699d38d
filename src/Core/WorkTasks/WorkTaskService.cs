using Microsoft.Extensions.Options;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.WorkTasks;

/// <summary>A work task as submitted; JSON fields are kept verbatim and shown back.</summary>
public sealed record WorkTaskSubmission
{
    public required string Type { get; init; }
    public int Priority { get; init; } = 1;
    public required string ProjectId { get; init; }
    public string TaskSpecJson { get; init; } = "{}";
    public string ResourceRequirementsJson { get; init; } = "{}";
    public string DataAccessJson { get; init; } = "{}";
    public ResourceNeed Resources { get; init; }
    /// <summary>Overrides the type's configured limit.</summary>
    public int? TimeoutSeconds { get; init; }
    /// <summary>Overrides the default (2 for ml_training, 3 otherwise, or the type's configured value).</summary>
    public int? MaxRetries { get; init; }
}

/// <summary>What a worker says about its task.</summary>
public enum WorkerStatus { Started, Succeeded, Failed, TimedOut, Cancelled }

public sealed record WorkerReport(WorkerStatus Status)
{
    public string? OutputLocation { get; init; }
    public string? MetadataJson { get; init; }
    public string? ErrorMessage { get; init; }
    /// <summary>
    /// The attempt the worker runs (spawned workers get it as <c>WORKTASK_ATTEMPT</c>): when given, a late report from an
    /// earlier attempt cannot close a newer one.
    /// </summary>
    public int? Attempt { get; init; }
}

public enum ReportOutcome { Recorded, RetryScheduled, NotFound, Conflict }

public sealed record ReportResult(ReportOutcome Outcome, string Message, ExecutionState? State = null);

/// <summary>
/// The work-task queue's semantics on top of the engine: a work task is an execution (handler, spawned command or
/// external) plus its <see cref="WorkTask"/> row. Worker reports become named transitions through
/// <see cref="ExecutionTransitions"/> / <see cref="ExecutionService"/>; a report the current state cannot take is a conflict
/// and changes nothing.
/// </summary>
public sealed class WorkTaskService(
    IWorkTaskShapes shapes,
    ExecutionService executions,
    ExecutionTransitions transitions,
    RetryElection retries,
    IWorkTaskStore store,
    ExecutionEvents events,
    IEventBroadcast broadcast,
    IOptions<WorkTaskOptions> workTaskOptions,
    TimeProvider time)
{
    /// <summary>Tag on every work task's execution; with the type it makes them easy to find in the console.</summary>
    public const string Tag = "worktask";
    /// <summary>Tag on executions whose process reports its outcome over the status route.</summary>
    public const string SpawnedTag = "worktask:spawned";

    public async Task<WorkTaskRecord> SubmitAsync(WorkTaskSubmission s, CancellationToken ct = default)
    {
        var types = workTaskOptions.Value;
        if (string.IsNullOrWhiteSpace(s.Type)) throw new InvalidSubmissionException("type", "The work-task type is required.");
        if (!types.IsKnown(s.Type))
            throw new InvalidSubmissionException("type",
                $"Unknown work-task type '{s.Type}' (known: {string.Join(", ", WorkTaskOptions.BuiltInTypes.Concat(types.Types.Keys).Distinct())}).");
        if (string.IsNullOrWhiteSpace(s.ProjectId)) throw new InvalidSubmissionException("project_id", "The project id is required.");
        if (s.MaxRetries is < 0) throw new InvalidSubmissionException("max_retries", "Must be 0 or more.");
        var binding = types.BindingFor(s.Type);
        var workTaskId = Guid.NewGuid().ToString();

        var spec = new NewExecution
        {
            Kind = binding.Kind,
            Name = binding.Binding == WorkTaskBinding.Handler ? binding.Handler!.Trim() : s.Type,
            TaskId = workTaskId,
            ArgumentsJson = shapes.HandlerArguments(workTaskId, s),
            Command = binding.Command,
            Queue = "worktasks",
            Priority = s.Priority,
            MaxRetries = s.MaxRetries ?? binding.MaxRetries ?? WorkTaskOptions.DefaultMaxRetries(s.Type),
            RetryIntervalSeconds = binding.RetryIntervalSeconds,
            RetryPolicy = RetryPolicy.TransientOnly,
            TimeoutSeconds = s.TimeoutSeconds ?? binding.TimeoutSeconds,
            Tags = binding.Binding == WorkTaskBinding.Spawned ? [Tag, $"{Tag}:{s.Type}", SpawnedTag] : [Tag, $"{Tag}:{s.Type}"],
            Cores = s.Resources.Cores,
            MemoryMB = s.Resources.MemoryMB,
            Gpus = s.Resources.Gpus,
        };
        WorkTask? row = null;
        var stored = await executions.SubmitManyAsync([spec], async (list, token) =>
        {
            row = new WorkTask
            {
                ExecutionId = list[0].Id, WorkTaskId = workTaskId, Type = s.Type, ProjectId = s.ProjectId, Binding = binding.Binding,
                TaskSpecJson = s.TaskSpecJson, ResourceRequirementsJson = s.ResourceRequirementsJson, DataAccessJson = s.DataAccessJson,
            };
            await store.InsertAsync(row, token);
        }, ct);
        return new WorkTaskRecord(stored[0], row!);
    }

    public Task<WorkTaskRecord?> FindAsync(string workTaskId, CancellationToken ct = default) => store.FindAsync(workTaskId, ct);

    public async Task<ReportResult> ReportAsync(string workTaskId, WorkerReport report, CancellationToken ct = default)
    {
        var record = await store.FindAsync(workTaskId, ct);
        if (record is null) return new ReportResult(ReportOutcome.NotFound, $"Work task {workTaskId} does not exist.");
        var e = record.Execution;
        // A handler's outcome is what the handler returns; only a cancel may come from outside.
        if (e.Kind == ExecutorKind.Handler && report.Status != WorkerStatus.Cancelled)
            return Conflict(e.State, $"Work task {e.TaskId} is run by the handler '{e.Name}' inside Taskdeck; its status is not reported by a worker.");
        return report.Status switch
        {
            WorkerStatus.Started => await StartedAsync(record, report, ct),
            WorkerStatus.Cancelled => await CancelledAsync(e, ct),
            _ => await FinishedAsync(e, report, ct),
        };
    }

    private async Task<ReportResult> StartedAsync(WorkTaskRecord record, WorkerReport report, CancellationToken ct)
    {
        var e = record.Execution;
        if (e.State.IsActive())
        {
            if (report.Attempt is { } reported && reported != e.AttemptCount)
                return Conflict(e.State, $"The report is about attempt {reported}, but work task {e.TaskId} is on attempt {e.AttemptCount}.");
            // A spawned worker's first "executing" of its attempt says it started (the task reads executing rather than
            // spawned until the next attempt); a later "executing" with metadata is the worker's progress report (the seed:
            // "called by worker jobs to report progress").
            var starting = e.Kind == ExecutorKind.Command && record.Task.WorkerStartedAttempt != e.AttemptCount;
            if (!starting && report.MetadataJson is null) return new ReportResult(ReportOutcome.Recorded, "Already running.", e.State);
            // Taken only while the attempt still runs, in the one guarded write that keeps it: a report that lost the race with
            // the attempt's end (or a cancel) neither overwrites what the end recorded nor announces the task as executing.
            // Kept before anyone is told, so whoever reads on the event finds what was reported.
            if (e.State != ExecutionState.Running
                || !await store.RecordWorkerReportAsync(e.Id, ExecutionState.Running, e.AttemptCount, report.MetadataJson, starting, ct))
                return await NotTakenAsync(e, ct);
            Tell(starting
                ? new WorkerStartReported(e.Id, time.GetUtcNow(), e.AttemptCount)
                : new WorkerProgressReported(e.Id, time.GetUtcNow(), e.AttemptCount));
            return new ReportResult(ReportOutcome.Recorded, starting ? "Started." : "Progress recorded.", ExecutionState.Running);
        }
        if (e.State.IsTerminal())
            return Conflict(e.State, $"Work task {e.TaskId} is {e.State}; it cannot start again without a retry.");
        if (e.Kind != ExecutorKind.External)
            return Conflict(e.State, $"Work task {e.TaskId} is run by Taskdeck ({e.Kind}) and has not started yet; only external tasks are started by their worker.");
        // An external worker's first "executing": what it reports is kept while the task still waits as read, before the start
        // is applied and published, so whoever reacts to the start (here or on another node) reads it.
        if (report.MetadataJson is not null && !await store.RecordWorkerReportAsync(e.Id, e.State, e.AttemptCount, report.MetadataJson, started: false, ct))
            return await NotTakenAsync(e, ct);
        var started = await transitions.ApplyAsync(new TransitionCommand(e.Id, Transition.ReportStarted) { Reason = "its worker reported it started" }, ct);
        if (!started.Applied) return Refused(started);
        return new ReportResult(ReportOutcome.Recorded, "Started.", started.NewState);
    }

    /// <summary>A report whose guarded write found the task changed since it was read: nothing was kept, and the worker is told why.</summary>
    private async Task<ReportResult> NotTakenAsync(Execution read, CancellationToken ct)
    {
        var now = (await store.FindByExecutionAsync(read.Id, ct))?.Execution;
        if (now is null) return new ReportResult(ReportOutcome.NotFound, $"Work task {read.TaskId} does not exist.");
        return Conflict(now.State, $"Work task {read.TaskId} is {now.State} on attempt {now.AttemptCount}: its worker's report was not kept (a worker's report is kept only while the attempt it is about runs; this one was read while the task was {read.State} on attempt {read.AttemptCount}).");
    }

    /// <summary>An event with no row in the change feed: published here, and sent to the other nodes.</summary>
    private void Tell(ExecutionEvent e)
    {
        events.Publish(e);
        broadcast.Broadcast(e);
    }

    private async Task<ReportResult> FinishedAsync(Execution e, WorkerReport report, CancellationToken ct)
    {
        var attempt = e.AttemptCount;
        var state = e.State;
        if (e.State.IsActive() && report.Attempt is { } reported && reported != attempt)
            return Conflict(e.State, $"The report is about attempt {reported}, but work task {e.TaskId} is on attempt {attempt}.");
        if (e.State.IsWaiting() && e.Kind == ExecutorKind.External)
        {
            // An external worker may report only its end: the attempt it ran opens and closes here, both by the table.
            var started = await transitions.ApplyAsync(new TransitionCommand(e.Id, Transition.ReportStarted) { Reason = "its worker reported its end without a start" }, ct);
            if (!started.Applied) return Refused(started);
            attempt = started.AttemptNumber;
            state = started.NewState!.Value;
        }
        else if (!e.State.IsActive())
        {
            return Conflict(e.State, $"Work task {e.TaskId} is {e.State}; a {report.Status} report needs it running.");
        }

        TransitionCommand command;
        var retry = false;
        switch (report.Status)
        {
            case WorkerStatus.Succeeded:
                command = new TransitionCommand(e.Id, Transition.Succeed) { ResultJson = shapes.SuccessResult(report), Reason = "its worker reported success" };
                break;
            case WorkerStatus.TimedOut:
                var timeout = report.ErrorMessage ?? "its worker reported a timeout";
                command = new TransitionCommand(e.Id, Transition.TimeOut) { ErrorMessage = timeout, Reason = timeout };
                break;
            default:
                var error = string.IsNullOrWhiteSpace(report.ErrorMessage) ? "its worker reported a failure" : report.ErrorMessage;
                command = retries.AfterFailure(e, attempt, Transition.Fail, error);
                retry = command.Transition == Transition.RetryLater;
                break;
        }
        // What the worker reports with its end is kept before the end is applied and published, so whoever reacts to the end
        // (the task socket, a page, a GET, another node's follower) reads it. The write is guarded as the end's transition is
        // (a state it leaves from, this attempt): a report that lost the race with a cancel or another end keeps nothing. A
        // state the end cannot leave from is left to the transition to refuse, as it always has.
        // Should the end still lose after the write (a cancel or the timeout sweep landing between the two), what the worker
        // reported stays on the task that ended otherwise: it is the worker's own account of its output, and unwinding it
        // would race a second time.
        if ((report.OutputLocation is not null || report.MetadataJson is not null) && StateMachine.Allows(command.Transition, state)
            && !await store.RecordWorkerEndAsync(e.Id, StateMachine.Rule(command.Transition).From, attempt, report.OutputLocation, report.MetadataJson, ct))
            return await NotTakenAsync(e, ct);
        var applied = await transitions.ApplyAsync(command with { ExpectedAttempt = attempt }, ct);
        if (!applied.Applied) return Refused(applied);
        // The reason belongs to the retry, not to the report: kept only for a retry that happened. Until it is, the task shows
        // the record's error as its retry reason, which the retry's transition wrote with the same text.
        if (retry) await store.RecordRetryReasonAsync(e.Id, command.ErrorMessage!, ct);
        if (!retry) return new ReportResult(ReportOutcome.Recorded, $"Recorded as {applied.NewState}.", applied.NewState);
        return new ReportResult(ReportOutcome.RetryScheduled, $"Transient failure; requeued for retry {attempt} of {e.MaxRetries}.", applied.NewState);
    }

    private async Task<ReportResult> CancelledAsync(Execution e, CancellationToken ct)
    {
        if (e.Kind == ExecutorKind.External && e.State.IsActive())
        {
            // No Taskdeck worker holds an external task: its own worker stopping it is the confirmation.
            if (e.State == ExecutionState.Running)
            {
                var requested = await transitions.ApplyAsync(new TransitionCommand(e.Id, Transition.RequestCancel) { Reason = "its worker reported it cancelled" }, ct);
                if (!requested.Applied) return Refused(requested);
            }
            var confirmed = await transitions.ApplyAsync(new TransitionCommand(e.Id, Transition.ConfirmCancel) { Reason = "its worker reported it cancelled" }, ct);
            return confirmed.Applied ? new ReportResult(ReportOutcome.Recorded, "Cancelled.", confirmed.NewState) : Refused(confirmed);
        }
        var outcome = await executions.CancelCoreAsync(e.Id, "its worker reported it cancelled", by: null, ct);
        return outcome.Status switch
        {
            ActionStatus.Done => new ReportResult(ReportOutcome.Recorded, outcome.Message, outcome.State),
            ActionStatus.NotFound => new ReportResult(ReportOutcome.NotFound, outcome.Message),
            _ => new ReportResult(ReportOutcome.Conflict, outcome.Message, outcome.State),
        };
    }

    /// <summary>Ends external tasks that ran past their timeout (nothing in Taskdeck holds them to it otherwise).</summary>
    public async Task<int> TimeOutOverdueAsync(CancellationToken ct = default)
    {
        var ended = 0;
        foreach (var (id, attempt) in await store.FindOverdueExternalAsync(time.GetUtcNow(), ct))
        {
            var result = await transitions.ApplyAsync(new TransitionCommand(id, Transition.TimeOut)
                { ExpectedAttempt = attempt, ErrorMessage = "no final report from its worker within the task's timeout", Reason = "timeout" }, ct);
            if (result.Applied) ended++;
        }
        return ended;
    }

    /// <summary>
    /// Confirms cancels of running external tasks: nothing in Taskdeck can stop an outside worker, so the record ends
    /// Cancelled at once and the worker learns it from the 409 its next report gets.
    /// </summary>
    public async Task<int> ConfirmExternalCancelsAsync(CancellationToken ct = default)
    {
        var confirmed = 0;
        foreach (var (id, attempt) in await store.FindCancellingExternalAsync(ct))
        {
            var result = await transitions.ApplyAsync(new TransitionCommand(id, Transition.ConfirmCancel)
                { ExpectedAttempt = attempt, Reason = "cancelled; its external worker is told on its next report" }, ct);
            if (result.Applied) confirmed++;
        }
        return confirmed;
    }

    private static ReportResult Conflict(ExecutionState state, string message) => new(ReportOutcome.Conflict, message, state);

    private static ReportResult Refused(TransitionResult r) =>
        r.NotFound ? new ReportResult(ReportOutcome.NotFound, r.Describe()) : new ReportResult(ReportOutcome.Conflict, r.Describe(), r.FoundState);
}
