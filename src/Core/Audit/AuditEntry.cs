namespace Taskdeck.Core.Audit;

/// <summary>How an audited act ended.</summary>
public enum AuditOutcome
{
    /// <summary>Everything asked for was done.</summary>
    Applied = 0,
    /// <summary>Nothing was done (not found, wrong state, invalid input, wrong password); the reason says why.</summary>
    Refused = 1,
    /// <summary>A bulk act did some of what was asked; the reason says what was not done.</summary>
    Partial = 2,
}

/// <summary>
/// One stored act: who, what, on which records (or the filter of a bulk act), how many, how it ended, when and from
/// where. It names records by id only (no foreign key), so it outlives the records it names.
/// </summary>
public sealed class AuditEntry
{
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    public string ActorName { get; set; } = "";
    public ActorKind ActorKind { get; set; }
    /// <summary>The remote address of the request that asked for it (null for Taskdeck's own acts).</summary>
    public string? Address { get; set; }
    /// <summary>One of <see cref="AuditActions"/> (or a feature's own dotted name).</summary>
    public string Action { get; set; } = "";
    /// <summary>One of <see cref="AuditRecordTypes"/>: what the ids name.</summary>
    public string? RecordType { get; set; }
    /// <summary>The ids acted on, as <c>|12|13|</c> so that a record filter is a plain LIKE on every provider.</summary>
    public string? RecordIds { get; set; }
    /// <summary>For bulk acts by filter (reset): the filter, as JSON.</summary>
    public string? Filter { get; set; }
    /// <summary>How many records the act changed.</summary>
    public int Count { get; set; }
    public AuditOutcome Outcome { get; set; }
    public string? Reason { get; set; }

    public IReadOnlyList<string> Ids => AuditRecord.SplitIds(RecordIds);
}

/// <summary>The names of audited acts. Features outside this list use the same "record.verb" form.</summary>
public static class AuditActions
{
    public const string SignIn = "auth.sign-in";
    public const string SignOut = "auth.sign-out";
    /// <summary>The first administrator created through the one-time set-up link.</summary>
    public const string SetUp = "auth.setup";
    public const string SubmitExecution = "execution.submit";
    public const string Cancel = "execution.cancel";
    public const string Retry = "execution.retry";
    public const string Reset = "execution.reset";
    public const string Delete = "execution.delete";
    public const string SubmitDag = "dagrun.submit";
    public const string KillDag = "dagrun.kill";
    public const string RestartDag = "dagrun.restart";
    public const string KillDagTask = "dagrun.kill-task";
    public const string SubmitWorkTask = "worktask.submit";
    public const string CreateUser = "user.create";
    public const string UpdateUser = "user.update";
    public const string DeleteUser = "user.delete";
    public const string CreateToken = "token.create";
    public const string RevokeToken = "token.revoke";
    public const string CreateSchedule = "schedule.create";
    public const string UpdateSchedule = "schedule.update";
    public const string DeleteSchedule = "schedule.delete";
    public const string PauseSchedule = "schedule.pause";
    public const string ResumeSchedule = "schedule.resume";
    public const string TriggerSchedule = "schedule.trigger";
    public const string ChangeSetting = "setting.change";

    public static readonly IReadOnlyList<string> Known =
    [
        SignIn, SignOut, SetUp, SubmitExecution, Cancel, Retry, Reset, Delete, SubmitDag, KillDag, RestartDag, KillDagTask, SubmitWorkTask,
        CreateUser, UpdateUser, DeleteUser, CreateToken, RevokeToken, CreateSchedule, UpdateSchedule, DeleteSchedule, PauseSchedule,
        ResumeSchedule, TriggerSchedule, ChangeSetting,
    ];
}

/// <summary>What an entry's record ids name.</summary>
public static class AuditRecordTypes
{
    public const string Execution = "execution";
    public const string DagRun = "dagrun";
    public const string WorkTask = "worktask";
    public const string User = "user";
    public const string Token = "token";
    public const string Schedule = "schedule";
    public const string Setting = "setting";
}
