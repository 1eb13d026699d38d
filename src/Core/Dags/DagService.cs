using System.Text.Json;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.Dags;

public sealed record DagSubmission(long? RunId, IReadOnlyList<string> Errors)
{
    public bool Accepted => RunId is not null;
    /// <summary>The configuration key of the limit that refused it, when one did.</summary>
    public string? Limit { get; init; }
    /// <summary>A schedule's slot that was already handled (by another node): nothing was stored.</summary>
    public bool SlotTaken { get; init; }
}

/// <summary>What a run-level action did; a conflict says which state refused it.</summary>
public sealed record DagActionOutcome(ActionStatus Status, DagRunState? State, string Message, string Subject = "dagrun")
{
    public bool Done => Status == ActionStatus.Done;
    /// <summary>A kill or restart: how many tasks it acts on, carried out by the stored bulk action <see cref="BulkActionId"/>.</summary>
    public int? Tasks { get; init; }
    public long? BulkActionId { get; init; }
    /// <summary>Whether the bulk action had finished when the answer was given (a small run's is waited for).</summary>
    public bool Finished { get; init; }
}

/// <summary>
/// What people and automation do to DAG runs: validate, submit, kill, restart, kill one task. Each task is an
/// execution like any other; every state change goes through <see cref="ExecutionService"/> and the state machine.
/// Each act someone asks for is one audit entry naming the run; the tasks' state changes carry the actor's name.
/// </summary>
public sealed class DagService(
    IDagSpecReader reader,
    IDagStore store,
    ExecutionService executions,
    DagScheduler scheduler,
    TaskHandlerRegistry handlers,
    NodeCapacity capacity,
    IOptions<TaskdeckOptions> options,
    IAuditTrail audit,
    Bulk.BulkActions bulk,
    TimeProvider time)
{
    /// <summary>A kill or restart of at most this many tasks is answered once done (as before bulk actions); a bigger one at once.</summary>
    public const int WaitedTasks = Bulk.BulkActions.BatchSize;

    public DagChecks Checks => new(options.Value.Commands, handlers.Contains) { Limits = DagLimits.From(options.Value), Secrets = options.Value.Secrets };

    /// <summary>Reads, expands and validates a spec; the plan lists every problem found.</summary>
    public DagPlan Validate(JsonElement spec) => Validate(spec, out _);

    /// <summary>
    /// Whether a spec has a task that runs a command (a process; who may submit it depends on that). Plans the spec, so
    /// ask only when the answer matters; a spec that is not an object is left to the validation that follows.
    /// </summary>
    public bool StartsCommands(JsonElement spec) => FirstCommandTask(spec) is not null;

    /// <summary>The name of the first task (after expansion) that runs a command, or null; see <see cref="StartsCommands"/>.</summary>
    public string? FirstCommandTask(JsonElement spec) =>
        spec.ValueKind == JsonValueKind.Object ? FirstCommandTask(Validate(spec).Tasks) : null;

    internal static string? FirstCommandTask(IEnumerable<PlannedTask> tasks) =>
        tasks.FirstOrDefault(t => string.IsNullOrWhiteSpace(t.Job.Handler))?.Name;

    private DagPlan Validate(JsonElement json, out DagSpec spec)
    {
        var errors = new List<string>();
        spec = reader.Read(json, errors);
        if (errors.Count == 0 && spec.Tasks.Count == 0) errors.Add("\"tasks\" is empty: a DAG needs at least one task.");
        var limits = options.Value.Limits;
        if (Limits.TextRules.NameProblem(spec.Tag, limits.MaxNameLength, "\"tag\"") is { } tagProblem)
        {
            var key = Limits.LimitOptions.Key(nameof(limits.MaxNameLength));
            return new DagPlan([], [], [.. errors, $"{tagProblem} ({key})"]) { Limit = key };
        }
        return DagPlanner.Plan(spec.Tasks, spec.Parameters, Checks, readErrors: errors);
    }

    /// <summary>
    /// <see cref="Validate(JsonElement)"/>, plus whether some worker node could ever hold each task's
    /// <c>cores</c>/<c>memoryMB</c> (work no node can admit would wait forever).
    /// </summary>
    public async Task<DagPlan> ValidateAsync(JsonElement json, CancellationToken ct = default)
    {
        var plan = Validate(json, out _);
        return plan.Valid ? await CheckResourcesAsync(plan, ct) : plan;
    }

    private async Task<DagPlan> CheckResourcesAsync(DagPlan plan, CancellationToken ct)
    {
        var errors = new List<string>();
        foreach (var group in plan.Tasks.GroupBy(t => new ResourceNeed(t.Job.Cores, t.Job.MemoryMB, 0)))
        {
            if (await capacity.WhyNoNodeFitsAsync(group.Key, ct) is not { } why) continue;
            var names = group.Select(t => t.Name).ToList();
            errors.Add($"task '{names[0]}'{(names.Count > 1 ? $" (and {names.Count - 1} more)" : "")}: {why}");
        }
        return errors.Count == 0 ? plan : plan with { Errors = errors };
    }

    /// <summary>
    /// A submission someone asked for: audited, refused specs included (with their first problems). <paramref name="mayRunCommands"/>
    /// says whether the submitter holds the <c>commands</c> scope: only then may the run's generators add command tasks
    /// (the door checks the spec's own tasks before this is called).
    /// </summary>
    public async Task<DagSubmission> SubmitAsync(JsonElement json, Actor actor, bool mayRunCommands, CancellationToken ct = default)
    {
        var submission = await SubmitCoreAsync(json, null, mayRunCommands, ct);
        await audit.RecordAsync(submission.Accepted
            ? new AuditRecord(actor, AuditActions.SubmitDag, AuditOutcome.Applied) { RecordType = AuditRecordTypes.DagRun, RecordIds = [Id(submission.RunId!.Value)], Count = 1 }
            : new AuditRecord(actor, AuditActions.SubmitDag, AuditOutcome.Refused)
            {
                RecordType = AuditRecordTypes.DagRun,
                Reason = string.Join("; ", submission.Errors.Take(5)) + (submission.Errors.Count > 5 ? $" ({submission.Errors.Count - 5} more)" : ""),
            }, ct);
        return submission;
    }

    /// <summary>Stores the run, its tasks and edges and queues the roots at once; an invalid spec stores nothing. Not audited: the engine's own path.</summary>
    public Task<DagSubmission> SubmitAsync(JsonElement json, CancellationToken ct = default) => SubmitCoreAsync(json, null, false, ct);

    /// <summary>
    /// A schedule's run for one slot: the run is stored in one transaction with the slot's firing row (its tasks after
    /// it, as for any run); <see cref="DagSubmission.SlotTaken"/> when the slot was already handled.
    /// </summary>
    /// <remarks>
    /// Nobody is at hand when a slot fires: the run may start commands only when its spec runs one (saving such a schedule
    /// needed the <c>commands</c> scope), so a schedule of handlers cannot grow a process through a generator either.
    /// </remarks>
    public Task<DagSubmission> SubmitForSlotAsync(JsonElement json, Schedules.SlotClaim claim, CancellationToken ct = default) => SubmitCoreAsync(json, claim, false, ct);

    private async Task<DagSubmission> SubmitCoreAsync(JsonElement json, Schedules.SlotClaim? claim, bool mayRunCommands, CancellationToken ct)
    {
        var plan = Validate(json, out var spec);
        if (plan.Valid) plan = await CheckResourcesAsync(plan, ct);
        if (!plan.Valid) return new DagSubmission(null, plan.Errors) { Limit = plan.Limit };
        mayRunCommands = mayRunCommands || FirstCommandTask(plan.Tasks) is not null;

        var parameters = JsonSerializer.Serialize(spec.Parameters.ToDictionary(p => p.Name, p => p.Values));
        long runId;
        if (claim is null) runId = await store.CreateRunAsync(spec.Tag, json.GetRawText(), parameters, mayRunCommands, time.GetUtcNow(), ct);
        else if (await store.CreateClaimedRunAsync(claim, spec.Tag, json.GetRawText(), parameters, mayRunCommands, time.GetUtcNow(), ct) is { } claimed) runId = claimed;
        else return new DagSubmission(null, []) { SlotTaken = true };
        var children = plan.Edges.Select(e => e.Child).ToHashSet(StringComparer.Ordinal);
        await AddTasksAsync(runId, plan, [], ct, roots: plan.Tasks.Where(t => !children.Contains(t.Name)).Select(t => t.Name).ToHashSet(StringComparer.Ordinal),
            schedule: claim is null ? null : (claim.ScheduleName, claim.Slot));
        await scheduler.RecomputeAsync(runId, ct);
        return new DagSubmission(runId, []);
    }

    /// <summary>
    /// Stores planned tasks as executions of the run with their edges, plus <paramref name="extraEdges"/> by name (which
    /// may name tasks already in the run). <paramref name="roots"/> are queued, the others wait Pending for their
    /// parents; the edges are stored before any job exists, so a root that finishes at once always finds its children.
    /// </summary>
    internal async Task<IReadOnlyDictionary<string, long>> AddTasksAsync(long runId, DagPlan plan, IReadOnlyList<(string Parent, string Child)> extraEdges,
        CancellationToken ct, IReadOnlyDictionary<string, long>? existing = null, IReadOnlySet<string>? roots = null,
        (string Name, DateTimeOffset Slot)? schedule = null)
    {
        var specs = plan.Tasks.Select(t => ToExecution(runId, t, waitForParents: roots?.Contains(t.Name) != true)
            with { ScheduleName = schedule?.Name, ScheduleSlot = schedule?.Slot }).ToList();
        var ids = new Dictionary<string, long>(existing ?? new Dictionary<string, long>(), StringComparer.Ordinal);
        await executions.SubmitManyAsync(specs, async (stored, token) =>
        {
            for (var i = 0; i < stored.Count; i++) ids[plan.Tasks[i].Name] = stored[i].Id;
            var edges = plan.Edges.Concat(extraEdges).Select(e => (ids[e.Parent], ids[e.Child])).Distinct().ToList();
            if (edges.Count > 0) await store.AddEdgesAsync(runId, edges, token);
        }, ct);
        return ids;
    }

    private static NewExecution ToExecution(long runId, PlannedTask task, bool waitForParents)
    {
        var handler = !string.IsNullOrWhiteSpace(task.Job.Handler);
        return new NewExecution
        {
            Kind = handler ? ExecutorKind.Handler : ExecutorKind.Command,
            Name = handler ? task.Job.Handler! : task.Job.Command[0],
            ArgumentsJson = handler ? task.Job.ArgsJson : null,
            Command = handler ? [] : task.Job.Command,
            Environment = task.Job.Environment,
            MaxRetries = task.MaxRetries,
            RetryIntervalSeconds = task.RetryIntervalSeconds,
            DagRunId = runId,
            DagTaskName = task.Name,
            IsGenerator = task.IsGenerator,
            WaitForParents = waitForParents,
            Cores = task.Job.Cores,
            MemoryMB = task.Job.MemoryMB,
        };
    }

    /// <summary>KILLED at once; every task that has not ended is cancelled (running processes are killed).</summary>
    public async Task<DagActionOutcome> KillAsync(long runId, Actor actor, CancellationToken ct = default) =>
        await AuditAsync(actor, AuditActions.KillDag, runId, await KillCoreAsync(runId, actor, ct), ct);

    private async Task<DagActionOutcome> KillCoreAsync(long runId, Actor actor, CancellationToken ct)
    {
        var run = await store.FindRunAsync(runId, ct);
        if (run is null) return NotFound(runId);
        if (run.State == DagRunState.Completed)
            return new(ActionStatus.Conflict, run.State, $"DAG run {runId} is Completed; there is nothing to kill.");
        if (run.State != DagRunState.Killed
            && !await store.SetStateAsync(runId, [DagRunState.Queued, DagRunState.Running, DagRunState.Errored], DagRunState.Killed, time.GetUtcNow(), ct))
        {
            var now = await store.FindRunAsync(runId, ct);
            if (now?.State != DagRunState.Killed) return new(ActionStatus.Conflict, now?.State, $"DAG run {runId} changed state to {now?.State} meanwhile; try again.");
        }
        scheduler.Forget(runId);
        // The run is KILLED now (it releases nothing more); its tasks are cancelled by a stored bulk action, batch by batch,
        // whether or not the caller waits for the answer.
        var unfinished = await store.CountTasksAsync(runId, ExecutionStates.NotEnded, ct);
        return await StartAsync(new Bulk.BulkAction { Kind = Bulk.BulkActionKind.KillDagRun, DagRunId = runId, Total = unfinished, Reason = "the DAG run was killed" },
            actor, DagRunState.Killed, $"DAG run {runId} killed", ct);
    }

    private async Task<DagActionOutcome> StartAsync(Bulk.BulkAction draft, Actor actor, DagRunState state, string what, CancellationToken ct) =>
        Outcome(draft, await bulk.StartAsync(draft, actor, waitIfAtMost: WaitedTasks, ct), state, what);

    private static DagActionOutcome Outcome(Bulk.BulkAction draft, (Bulk.BulkAction Action, bool Finished) started, DagRunState state, string what)
    {
        var (action, finished) = started;
        var message = finished ? $"{what}: {draft.Total} task(s)." : $"{what}: {draft.Total} task(s), in the background (bulk action {action.Id}).";
        return new(ActionStatus.Done, state, message) { Tasks = draft.Total, BulkActionId = action.Id, Finished = finished };
    }

    /// <summary>
    /// Restart of an ERRORED or KILLED run: every task that did not succeed goes back — to the queue if its parents
    /// have all succeeded, else to wait for them. Succeeded work is kept.
    /// </summary>
    public async Task<DagActionOutcome> RestartAsync(long runId, Actor actor, CancellationToken ct = default) =>
        await AuditAsync(actor, AuditActions.RestartDag, runId, await RestartCoreAsync(runId, actor, ct), ct);

    private async Task<DagActionOutcome> RestartCoreAsync(long runId, Actor actor, CancellationToken ct)
    {
        var run = await store.FindRunAsync(runId, ct);
        if (run is null) return NotFound(runId);
        if (run.State is not (DagRunState.Errored or DagRunState.Killed))
            return new(ActionStatus.Conflict, run.State, $"DAG run {runId} is {run.State}; only an Errored or Killed run can be queued again.");
        if (await store.FirstTaskInAsync(runId, ExecutionStates.Active, ct) is { } stopping)
            return new(ActionStatus.Conflict, run.State, $"Task '{stopping.Name}' of DAG run {runId} is still {stopping.State}; try again once it has stopped.");
        // A kill still cancelling its tasks in the background would cancel what the restart queues.
        if (await bulk.UnfinishedForRunAsync(runId, ct) is { } pending)
            return new(ActionStatus.Conflict, run.State, $"DAG run {runId} is still being {(pending.Kind == Bulk.BulkActionKind.KillDagRun ? "killed" : "restarted")} (bulk action {pending.Id}); try again once it is done.");
        // Counted while the run is ERRORED or KILLED: nothing moves its tasks then.
        var toRedo = await store.CountTasksAsync(runId, [.. ExecutionStates.Retryable, ExecutionState.Pending], ct);
        // The act is stored before the run is QUEUED again: a node recomputing the run (the kill's last cancel ending on
        // another node) that reads it QUEUED while its tasks still read as ended then also reads the restart unfinished,
        // and leaves the run as it is instead of settling a passing ERRORED.
        var draft = new Bulk.BulkAction { Kind = Bulk.BulkActionKind.RestartDagRun, DagRunId = runId, Total = toRedo, Reason = "DAG run restarted" };
        var started = await bulk.StartIfAsync(draft, actor, async token =>
        {
            if (!await store.SetStateAsync(runId, [run.State], DagRunState.Queued, time.GetUtcNow(), token)) return false;
            scheduler.Forget(runId);
            return true;
        }, WaitedTasks, ct);
        return started is { } s
            ? Outcome(draft, s, DagRunState.Queued, $"DAG run {runId} queued again")
            : new(ActionStatus.Conflict, run.State, $"DAG run {runId} changed state meanwhile; try again.");
    }

    public async Task<DagActionOutcome> KillTaskAsync(long runId, string taskName, Actor actor, CancellationToken ct = default) =>
        await AuditAsync(actor, AuditActions.KillDagTask, runId, await KillTaskCoreAsync(runId, taskName, actor.HistoryName, ct), ct);

    private async Task<DagActionOutcome> KillTaskCoreAsync(long runId, string taskName, string? by, CancellationToken ct)
    {
        if (await store.FindRunAsync(runId, ct) is null) return NotFound(runId);
        var task = await store.FindTaskAsync(runId, taskName, ct);
        if (task is null) return new(ActionStatus.NotFound, null, $"DAG run {runId} has no task '{taskName}'.", "task");
        var outcome = await executions.CancelCoreAsync(task.ExecutionId, "killed by request", by, ct);
        return new(outcome.Status, null, $"task '{taskName}': {outcome.Message}", "task");
    }

    private async Task<DagActionOutcome> AuditAsync(Actor actor, string action, long runId, DagActionOutcome outcome, CancellationToken ct)
    {
        await audit.RecordAsync(new AuditRecord(actor, action, outcome.Done ? AuditOutcome.Applied : AuditOutcome.Refused)
        {
            RecordType = AuditRecordTypes.DagRun, RecordIds = [Id(runId)], Count = outcome.Done ? 1 : 0,
            Reason = outcome.Done && action != AuditActions.KillDagTask ? null : outcome.Message,
        }, ct);
        return outcome;
    }

    private static string Id(long id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static DagActionOutcome NotFound(long runId) => new(ActionStatus.NotFound, null, $"DAG run {runId} does not exist.");
}
