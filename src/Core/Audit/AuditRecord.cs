namespace Taskdeck.Core.Audit;

/// <summary>What a caller asks the audit trail to keep; the trail adds the time.</summary>
public sealed record AuditRecord(Actor Actor, string Action, AuditOutcome Outcome)
{
    /// <summary>An entry keeps at most this many ids; <see cref="Count"/> still says how many were acted on.</summary>
    public const int MaxIds = 500;

    public string? RecordType { get; init; }
    public IReadOnlyList<string> RecordIds { get; init; } = [];
    /// <summary>The filter of a bulk act, as the caller wants it read back (JSON).</summary>
    public string? Filter { get; init; }
    public int Count { get; init; }
    public string? Reason { get; init; }

    /// <summary>Applied when every one was done, Refused when none, else Partial.</summary>
    public static AuditOutcome OutcomeOf(int done, int asked) =>
        done == asked && asked > 0 ? AuditOutcome.Applied : done == 0 ? AuditOutcome.Refused : AuditOutcome.Partial;

    internal static string? JoinIds(IReadOnlyList<string> ids) =>
        ids.Count == 0 ? null : "|" + string.Concat(ids.Take(MaxIds).Select(i => i.Replace("|", "") + "|"));

    internal static IReadOnlyList<string> SplitIds(string? ids) =>
        string.IsNullOrEmpty(ids) ? [] : ids.Split('|', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The LIKE pattern that finds entries naming this id.</summary>
    public static string IdPattern(string id) => "%|" + id.Replace("|", "") + "|%";
}
