namespace Taskdeck.Core.Schedules;

/// <summary>What to do when a slot comes while the previous run is still going (Temporal's vocabulary).</summary>
public enum OverlapPolicy
{
    /// <summary>The slot is recorded as skipped; nothing starts.</summary>
    Skip = 0,
    /// <summary>A new run starts beside the previous one.</summary>
    Allow = 1,
    /// <summary>One slot waits and starts as soon as the previous run ends; a further slot meanwhile is skipped.</summary>
    BufferOne = 2,
    /// <summary>The previous run is cancelled (a DAG run killed) and the new one starts.</summary>
    CancelPrevious = 3,
}

/// <summary>What happens to slots missed while no node was running (Airflow's catch-up, bounded).</summary>
public enum CatchUpPolicy
{
    /// <summary>Missed slots are dropped: the next run is the next slot.</summary>
    None = 0,
    /// <summary>One run, for the latest missed slot.</summary>
    Latest = 1,
    /// <summary>A run for every missed slot, the most recent ones up to <c>Taskdeck:Scheduling:CatchUpCap</c>.</summary>
    All = 2,
}

public enum ScheduleTargetKind
{
    /// <summary>A registered .NET handler with arguments.</summary>
    Handler = 0,
    /// <summary>A process: argv, environment, working folder.</summary>
    Command = 1,
    /// <summary>A DAG in daggy's spec format.</summary>
    Dag = 2,
}

/// <summary>Why a firing happened.</summary>
public enum FiringKind
{
    /// <summary>A slot fired on time.</summary>
    Scheduled = 0,
    /// <summary>A slot missed while no node ran, fired at start-up (or late) by the catch-up policy.</summary>
    CatchUp = 1,
    /// <summary>An operator's "trigger now".</summary>
    Manual = 2,
}

public enum FiringOutcome
{
    /// <summary>A run was started (its execution or DAG run is on the firing).</summary>
    Started = 0,
    /// <summary>Nothing started: the previous run was still going (overlap Skip, or BufferOne with one already waiting).</summary>
    Skipped = 1,
    /// <summary>Waits for the previous run to end (overlap BufferOne); becomes Started then.</summary>
    Buffered = 2,
    /// <summary>The run could not be started (the handler is gone, the command is no longer allowed, …); the message says why.</summary>
    Failed = 3,
}

/// <summary>
/// A recurring definition: a cron expression in a time zone, and what each slot starts. Stored in Taskdeck's
/// database; changed only through <see cref="ScheduleService"/>.
/// </summary>
public sealed class Schedule
{
    public long Id { get; set; }
    /// <summary>Unique; each run it starts carries it.</summary>
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    /// <summary>5 fields (minute precision) or 6 (with seconds first), or a macro such as <c>@daily</c>.</summary>
    public string Cron { get; set; } = "";
    /// <summary>IANA id (Europe/Berlin); slots are computed in this zone.</summary>
    public string TimeZone { get; set; } = "UTC";
    public bool Enabled { get; set; } = true;
    public OverlapPolicy Overlap { get; set; }
    public CatchUpPolicy CatchUp { get; set; } = CatchUpPolicy.Latest;
    /// <summary>No slot before this instant fires.</summary>
    public DateTimeOffset? StartAt { get; set; }
    /// <summary>No slot after this instant fires.</summary>
    public DateTimeOffset? EndAt { get; set; }
    /// <summary>Each slot fires up to this many seconds late (the same delay on every node), so that many schedules on one minute spread out.</summary>
    public int JitterSeconds { get; set; }

    public ScheduleTargetKind Kind { get; set; }
    /// <summary>The handler's name (Handler).</summary>
    public string? Task { get; set; }
    /// <summary>The handler's arguments, a JSON object.</summary>
    public string? ArgsJson { get; set; }
    public List<string> Command { get; set; } = [];
    public List<string> Environment { get; set; } = [];
    public string? WorkingDirectory { get; set; }
    /// <summary>The daggy spec (Dag).</summary>
    public string? DagJson { get; set; }

    public string Queue { get; set; } = "default";
    public int Priority { get; set; }
    public List<string> Tags { get; set; } = [];
    public int MaxRetries { get; set; }
    public int RetryIntervalSeconds { get; set; }
    public int? TimeoutSeconds { get; set; }

    /// <summary>Declared under <c>Taskdeck:Schedules</c>: created or updated at every start.</summary>
    public bool FromConfiguration { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Changes with the definition (not with firings): how nodes notice each other's edits.</summary>
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>Slots at or before this instant never fire: set on create, resume and a changed cron or zone.</summary>
    public DateTimeOffset SlotsFrom { get; set; }
    /// <summary>The latest slot that fired (or was skipped), written with the firing: what a node starting up catches up from.</summary>
    public DateTimeOffset? LastSlot { get; set; }
}

/// <summary>One slot of one schedule, handled once: unique on (ScheduleId, Slot) and written with the run it starts.</summary>
public sealed class ScheduleFiring
{
    public long Id { get; set; }
    public long ScheduleId { get; set; }
    /// <summary>The slot's instant (for a manual trigger, the moment it was asked).</summary>
    public DateTimeOffset Slot { get; set; }
    public DateTimeOffset FiredAt { get; set; }
    public FiringKind Kind { get; set; }
    public FiringOutcome Outcome { get; set; }
    public long? ExecutionId { get; set; }
    public long? DagRunId { get; set; }
    public string? NodeId { get; set; }
    public string? Message { get; set; }
}

/// <summary>
/// Written in the same transaction as the run a firing starts: the firing row (or, for a buffered slot, the change of
/// its row from Buffered to Started). When its key is taken, nothing of that transaction's run is stored.
/// </summary>
public sealed record SlotClaim(long ScheduleId, string ScheduleName, DateTimeOffset Slot, FiringKind Kind, DateTimeOffset FiredAt, string NodeId)
{
    public string? Message { get; init; }
    /// <summary>Promote this Buffered firing instead of inserting a new row.</summary>
    public long? BufferedFiringId { get; init; }
    /// <summary>Scheduled and catch-up firings move the schedule's <see cref="Schedule.LastSlot"/>; manual ones do not.</summary>
    public bool AdvancesLastSlot => Kind != FiringKind.Manual;
}

/// <summary>A firing as the history shows it: with the state its run is in now.</summary>
public sealed record FiringView(ScheduleFiring Firing, Executions.ExecutionState? ExecutionState, Dags.DagRunState? DagRunState);

/// <summary>A run a schedule started that has not ended.</summary>
public sealed record ActiveRun(long? ExecutionId, long? DagRunId);
