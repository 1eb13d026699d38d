using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Limits;

namespace Taskdeck.Core.Schedules;

/// <summary>What an action on a schedule did; <see cref="ActionStatus.Conflict"/> says why in the message.</summary>
public sealed record ScheduleOutcome(ActionStatus Status, Schedule? Schedule, string Message)
{
    public bool Done => Status == ActionStatus.Done;
}

/// <summary>A cron expression checked for the editor: <see cref="Field"/> and <see cref="Error"/> when it is wrong, else its words and next slots.</summary>
public sealed record CronPreview(string? Field, string? Error, string? Description, TimeZoneInfo? Zone, IReadOnlyList<DateTimeOffset> Next)
{
    public bool Valid => Error is null;
    public static CronPreview Problem(string field, string error) => new(field, error, null, null, []);
}

/// <summary>What "trigger now" (or a slot) did: the firing's outcome and the run it started.</summary>
public sealed record FireResult(FiringOutcome? Outcome, long? ExecutionId, long? DagRunId, string? Message)
{
    /// <summary>The slot had already been handled (by another node): nothing was done here.</summary>
    public bool Taken => Outcome is null;
    public static readonly FireResult SlotTaken = new(null, null, null, "the slot was already handled");
}

/// <summary>
/// What people, automation and configuration do to schedules: validate, create, update, pause, resume, trigger,
/// delete. Every change wakes the firing loop on this node; other nodes notice it through the database within a
/// second or two.
/// </summary>
public sealed partial class ScheduleService(
    IScheduleStore store,
    ExecutionService executions,
    DagService dags,
    ScheduleFirer firer,
    ScheduleRunner runner,
    ScheduleEvents events,
    IAuditTrail audit,
    [FromKeyedServices(ScheduleServices.ClockKey)] TimeProvider time)
{
    public const int MaxNameLength = 200;
    public const int MaxJitterSeconds = 3600;

    /// <summary>What a schedule's shown environment redacts (a schedule is a run waiting to happen).</summary>
    public Secrets.SecretOptions Secrets => dags.Checks.Secrets;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex NamePattern();

    /// <summary>Checks everything; throws <see cref="ScheduleDefinitionException"/> naming the field at fault.</summary>
    public CronSchedule Validate(ScheduleDraft draft)
    {
        if (string.IsNullOrWhiteSpace(draft.Name)) throw new ScheduleDefinitionException("name", "A name is required.");
        if (draft.Name.Length > MaxNameLength) throw new ScheduleDefinitionException("name", $"At most {MaxNameLength} characters.");
        if (!NamePattern().IsMatch(draft.Name))
            throw new ScheduleDefinitionException("name", "Use letters, digits, '.', '_' and '-' (it appears in URLs and filters), starting with a letter or digit.");
        if (draft.Description is { } description && TextRules.HasNul(description))
            throw new ScheduleDefinitionException("description", "Holds a NUL character, which cannot be stored.");
        var cron = CronSchedule.Parse(draft.Cron, draft.TimeZone);
        if (draft.StartAt is { } start && draft.EndAt is { } end && end <= start)
            throw new ScheduleDefinitionException("endAt", "Must be after startAt.");
        if (draft.JitterSeconds is < 0 or > MaxJitterSeconds) throw new ScheduleDefinitionException("jitterSeconds", $"Must be between 0 and {MaxJitterSeconds}.");
        if (draft.Priority is < -100 or > 100) throw new ScheduleDefinitionException("priority", "Must be between -100 and 100.");
        if (!Enum.IsDefined(draft.Overlap)) throw new ScheduleDefinitionException("overlap", "Use Skip, Allow, BufferOne or CancelPrevious.");
        if (!Enum.IsDefined(draft.CatchUp)) throw new ScheduleDefinitionException("catchUp", "Use None, Latest or All.");
        if (draft.Kind == ScheduleTargetKind.Dag)
        {
            if (string.IsNullOrWhiteSpace(draft.DagJson)) throw new ScheduleDefinitionException("dag", "A DAG spec (daggy's format) is required.");
            JsonDocument document;
            try { document = JsonDocument.Parse(draft.DagJson); }
            catch (JsonException e) { throw new ScheduleDefinitionException("dag", $"Not valid JSON: {e.Message}"); }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object) throw new ScheduleDefinitionException("dag", "Must be a JSON object (a daggy spec).");
                var plan = dags.Validate(document.RootElement);
                if (!plan.Valid) throw new ScheduleDefinitionException("dag", string.Join(" ", plan.Errors));
            }
        }
        else
        {
            try { executions.Validate(ToExecution(draft)); }
            catch (InvalidSubmissionException e) { throw new ScheduleDefinitionException(e.Field, e.Message); }
        }
        return cron;
    }

    /// <summary>Whether the schedule would start a process (a command, or a DAG with a command task): who may define it depends on it.</summary>
    public bool StartsCommands(ScheduleDraft draft)
    {
        if (draft.Kind == ScheduleTargetKind.Command) return true;
        if (draft.Kind != ScheduleTargetKind.Dag || string.IsNullOrWhiteSpace(draft.DagJson)) return false;
        try
        {
            using var document = JsonDocument.Parse(draft.DagJson);
            return dags.StartsCommands(document.RootElement);
        }
        catch (JsonException) { return false; }
    }

    /// <summary>The next slots of a cron expression in a zone (the editor's live preview, a schedule's page).</summary>
    public static IReadOnlyList<DateTimeOffset> Preview(CronSchedule cron, DateTimeOffset after, int count, DateTimeOffset? startAt = null, DateTimeOffset? endAt = null) =>
        cron.Upcoming(after, count, startAt, endAt);

    /// <summary>
    /// The editor's live check of a cron expression and zone as someone types: the expression in words and its next
    /// slots, or the field at fault and why. Never throws.
    /// </summary>
    public static CronPreview PreviewCron(string? cron, string? timeZone, DateTimeOffset now, int count, DateTimeOffset? startAt = null, DateTimeOffset? endAt = null)
    {
        try
        {
            var parsed = CronSchedule.Parse(cron, timeZone);
            if (startAt is { } start && endAt is { } end && end <= start) return CronPreview.Problem("endAt", "Must be after the start.");
            return new CronPreview(null, null, CronDescriber.Describe(parsed.Text), parsed.Zone, Preview(parsed, now, count, startAt, endAt));
        }
        catch (ScheduleDefinitionException e) { return CronPreview.Problem(e.Field, e.Message); }
    }

    /// <summary>A stored definition as an editor shows it: secret-looking environment values redacted.</summary>
    public ScheduleDraft ForEditing(Schedule s) => ScheduleDraft.From(s) with { Environment = global::Taskdeck.Core.Secrets.SecretText.RedactEnvironment(Secrets, s.Environment) };

    /// <summary>An edited draft whose environment entries still read as <see cref="ForEditing"/> redacted them get their stored values back.</summary>
    public ScheduleDraft RestoreRedacted(ScheduleDraft draft, Schedule stored)
    {
        var originals = stored.Environment.GroupBy(e => global::Taskdeck.Core.Secrets.SecretText.RedactEntry(Secrets, e)).ToDictionary(g => g.Key, g => g.First());
        return draft with { Environment = draft.Environment.Select(e => originals.GetValueOrDefault(e, e)).ToList() };
    }

    /// <summary>The schedule's next slots from now (none while paused or ended).</summary>
    public IReadOnlyList<DateTimeOffset> NextFireTimes(Schedule s, int count)
    {
        if (!s.Enabled) return [];
        var cron = CronSchedule.Parse(s.Cron, s.TimeZone);
        var after = new[] { time.GetUtcNow(), s.SlotsFrom, s.LastSlot ?? DateTimeOffset.MinValue }.Max();
        return cron.Upcoming(after, count, s.StartAt, s.EndAt);
    }

    public async Task<ScheduleOutcome> CreateAsync(ScheduleDraft draft, Actor actor, bool fromConfiguration = false, CancellationToken ct = default) =>
        await AuditAsync(actor, AuditActions.CreateSchedule, draft.Name, () => CreateCoreAsync(draft, fromConfiguration, ct), ct);

    private async Task<ScheduleOutcome> CreateCoreAsync(ScheduleDraft draft, bool fromConfiguration, CancellationToken ct)
    {
        Validate(draft);
        var now = time.GetUtcNow();
        var schedule = Apply(new Schedule { CreatedAt = now, FromConfiguration = fromConfiguration }, draft, now);
        schedule.SlotsFrom = now;
        var id = await store.CreateAsync(schedule, ct);
        if (id is null) return new(ActionStatus.Conflict, null, $"A schedule named '{draft.Name}' already exists.");
        schedule.Id = id.Value;
        Changed(schedule, ScheduleChange.Created);
        return new(ActionStatus.Done, schedule, $"Schedule '{schedule.Name}' created.");
    }

    public async Task<ScheduleOutcome> UpdateAsync(long id, ScheduleDraft draft, Actor actor, bool fromConfiguration = false, CancellationToken ct = default) =>
        await AuditAsync(actor, AuditActions.UpdateSchedule, draft.Name, () => UpdateCoreAsync(id, draft, fromConfiguration, ct), ct);

    private async Task<ScheduleOutcome> UpdateCoreAsync(long id, ScheduleDraft draft, bool fromConfiguration, CancellationToken ct)
    {
        Validate(draft);
        var schedule = await store.FindAsync(id, ct);
        if (schedule is null) return NotFound(id);
        var now = time.GetUtcNow();
        // A new cron, zone or window, or a resume, counts from now: the slots of the old definition are not caught up.
        var restarts = schedule.Cron != CronSchedule.Parse(draft.Cron, draft.TimeZone).Text || schedule.TimeZone != (draft.TimeZone ?? "UTC")
            || schedule.StartAt != draft.StartAt || (!schedule.Enabled && draft.Enabled);
        Apply(schedule, draft, now);
        schedule.FromConfiguration = fromConfiguration || schedule.FromConfiguration;
        if (restarts) schedule.SlotsFrom = now;
        if (!await store.UpdateAsync(schedule, ct))
            return await store.FindAsync(id, ct) is null ? NotFound(id) : new(ActionStatus.Conflict, null, $"A schedule named '{draft.Name}' already exists.");
        Changed(schedule, ScheduleChange.Updated);
        return new(ActionStatus.Done, schedule, $"Schedule '{schedule.Name}' updated.");
    }

    public async Task<ScheduleOutcome> PauseAsync(long id, Actor actor, CancellationToken ct = default) =>
        await AuditAsync(actor, AuditActions.PauseSchedule, $"{id}", () => SetEnabledAsync(id, false, ct), ct);

    /// <summary>Slots that passed while paused are not caught up: the schedule counts from now.</summary>
    public async Task<ScheduleOutcome> ResumeAsync(long id, Actor actor, CancellationToken ct = default) =>
        await AuditAsync(actor, AuditActions.ResumeSchedule, $"{id}", () => SetEnabledAsync(id, true, ct), ct);

    private async Task<ScheduleOutcome> SetEnabledAsync(long id, bool enabled, CancellationToken ct)
    {
        var schedule = await store.FindAsync(id, ct);
        if (schedule is null) return NotFound(id);
        if (schedule.Enabled == enabled) return new(ActionStatus.Done, schedule, $"Schedule '{schedule.Name}' is already {(enabled ? "running" : "paused")}.");
        var now = time.GetUtcNow();
        schedule.Enabled = enabled;
        schedule.UpdatedAt = now;
        if (enabled) schedule.SlotsFrom = now;
        if (!await store.UpdateAsync(schedule, ct)) return NotFound(id);
        Changed(schedule, ScheduleChange.Updated);
        return new(ActionStatus.Done, schedule, $"Schedule '{schedule.Name}' {(enabled ? "resumed" : "paused")}.");
    }

    /// <summary>Deletes the schedule and its firing history. Runs it already started are not touched (they keep its name).</summary>
    public async Task<ScheduleOutcome> DeleteAsync(long id, Actor actor, CancellationToken ct = default) =>
        await AuditAsync(actor, AuditActions.DeleteSchedule, $"{id}", () => DeleteCoreAsync(id, ct), ct);

    private async Task<ScheduleOutcome> DeleteCoreAsync(long id, CancellationToken ct)
    {
        var schedule = await store.FindAsync(id, ct);
        if (schedule is null || !await store.DeleteAsync(id, ct)) return NotFound(id);
        Changed(schedule, ScheduleChange.Deleted);
        return new(ActionStatus.Done, schedule, $"Schedule '{schedule.Name}' deleted.");
    }

    /// <summary>Starts a run now, whatever the overlap policy (the operator asked for it); a paused schedule can be triggered too.</summary>
    public async Task<(ScheduleOutcome Outcome, FireResult? Fired)> TriggerAsync(long id, Actor actor, CancellationToken ct = default)
    {
        FireResult? fired = null;
        var outcome = await AuditAsync(actor, AuditActions.TriggerSchedule, $"{id}", async () =>
        {
            (var result, fired) = await TriggerCoreAsync(id, ct);
            return result;
        }, ct);
        return (outcome, fired);
    }

    private async Task<(ScheduleOutcome Outcome, FireResult? Fired)> TriggerCoreAsync(long id, CancellationToken ct)
    {
        var schedule = await store.FindAsync(id, ct);
        if (schedule is null) return (NotFound(id), null);
        var slot = time.GetUtcNow();
        // A manual firing is keyed by its own instant; the same microsecond as a cron slot (or a double click) moves on by one.
        for (var i = 0; i < 5; i++, slot = slot.AddTicks(10))
        {
            var fired = await firer.FireAsync(schedule, slot, FiringKind.Manual, "triggered by request", ct);
            if (fired.Taken) continue;
            return fired.Outcome == FiringOutcome.Started
                ? (new(ActionStatus.Done, schedule, $"Schedule '{schedule.Name}' triggered."), fired)
                : (new(ActionStatus.Conflict, schedule, fired.Message ?? "The run could not be started."), fired);
        }
        return (new(ActionStatus.Conflict, schedule, "Another firing took the same instant; try again."), null);
    }

    /// <summary>
    /// One audit entry per act someone asked for, naming the schedule; refusals too (a definition that does not
    /// validate is refused, with its reason, and the exception goes on to the caller).
    /// </summary>
    private async Task<ScheduleOutcome> AuditAsync(Actor actor, string action, string subject, Func<Task<ScheduleOutcome>> act, CancellationToken ct)
    {
        ScheduleOutcome outcome;
        try { outcome = await act(); }
        catch (ScheduleDefinitionException e)
        {
            await audit.RecordAsync(new AuditRecord(actor, action, AuditOutcome.Refused)
                { RecordType = AuditRecordTypes.Schedule, RecordIds = [subject], Reason = $"{e.Field}: {e.Message}" }, ct);
            throw;
        }
        await audit.RecordAsync(new AuditRecord(actor, action, outcome.Done ? AuditOutcome.Applied : AuditOutcome.Refused)
        {
            RecordType = AuditRecordTypes.Schedule, RecordIds = [outcome.Schedule?.Name ?? subject], Count = outcome.Done ? 1 : 0,
            Reason = outcome.Done ? null : outcome.Message,
        }, ct);
        return outcome;
    }

    private void Changed(Schedule schedule, ScheduleChange change)
    {
        runner.Changed();
        events.Publish(new ScheduleEvent(schedule.Id, schedule.Name, change, time.GetUtcNow()));
    }

    private static ScheduleOutcome NotFound(long id) => new(ActionStatus.NotFound, null, $"Schedule {id} does not exist.");

    private static Schedule Apply(Schedule s, ScheduleDraft d, DateTimeOffset now)
    {
        s.Name = d.Name.Trim();
        s.Description = string.IsNullOrWhiteSpace(d.Description) ? null : d.Description.Trim();
        s.Cron = CronSchedule.Parse(d.Cron, d.TimeZone).Text;
        s.TimeZone = string.IsNullOrWhiteSpace(d.TimeZone) ? "UTC" : d.TimeZone.Trim();
        s.Enabled = d.Enabled;
        s.Overlap = d.Overlap;
        s.CatchUp = d.CatchUp;
        s.StartAt = d.StartAt;
        s.EndAt = d.EndAt;
        s.JitterSeconds = d.JitterSeconds;
        s.Kind = d.Kind;
        s.Task = d.Kind == ScheduleTargetKind.Handler ? d.Task?.Trim() : null;
        s.ArgsJson = d.Kind == ScheduleTargetKind.Handler ? d.ArgsJson : null;
        s.Command = d.Kind == ScheduleTargetKind.Command ? [.. d.Command] : [];
        s.Environment = d.Kind == ScheduleTargetKind.Command ? [.. d.Environment] : [];
        s.WorkingDirectory = d.Kind == ScheduleTargetKind.Command ? d.WorkingDirectory : null;
        s.DagJson = d.Kind == ScheduleTargetKind.Dag ? d.DagJson : null;
        s.Queue = string.IsNullOrWhiteSpace(d.Queue) ? "default" : d.Queue.Trim();
        s.Priority = d.Priority;
        s.Tags = [.. d.Tags];
        s.MaxRetries = d.MaxRetries;
        s.RetryIntervalSeconds = d.RetryIntervalSeconds;
        s.TimeoutSeconds = d.TimeoutSeconds;
        s.UpdatedAt = now;
        return s;
    }

    /// <summary>The execution one slot of a handler or command schedule starts.</summary>
    public static NewExecution ToExecution(Schedule s) => ToExecution(ScheduleDraft.From(s));

    private static NewExecution ToExecution(ScheduleDraft d) => new()
    {
        Kind = d.Kind == ScheduleTargetKind.Command ? ExecutorKind.Command : ExecutorKind.Handler,
        Name = d.Kind == ScheduleTargetKind.Command ? (d.Command.Count > 0 ? d.Command[0] : "") : (d.Task ?? "").Trim(),
        ArgumentsJson = d.Kind == ScheduleTargetKind.Handler ? d.ArgsJson : null,
        Command = d.Kind == ScheduleTargetKind.Command ? d.Command : [],
        Environment = d.Kind == ScheduleTargetKind.Command ? d.Environment : [],
        WorkingDirectory = d.Kind == ScheduleTargetKind.Command ? d.WorkingDirectory : null,
        Queue = string.IsNullOrWhiteSpace(d.Queue) ? "default" : d.Queue,
        Priority = d.Priority,
        MaxRetries = d.MaxRetries,
        RetryIntervalSeconds = d.RetryIntervalSeconds,
        TimeoutSeconds = d.TimeoutSeconds,
        Tags = d.Tags,
    };
}
