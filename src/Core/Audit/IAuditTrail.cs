namespace Taskdeck.Core.Audit;

/// <summary>
/// Where acts are recorded. Core's services call it for the acts they perform; sign-in, user, token, schedule and
/// setting changes call it from their own code. An entry is written after the act, with how it ended.
/// </summary>
public interface IAuditTrail
{
    Task RecordAsync(AuditRecord record, CancellationToken ct = default);
}

/// <summary>What the audit trail needs from storage; Data implements it with no foreign keys to the records named.</summary>
public interface IAuditStore
{
    Task AppendAsync(AuditEntry entry, CancellationToken ct = default);

    /// <summary>Deletes entries older than <paramref name="before"/>, at most <paramref name="limit"/>; answers how many.</summary>
    Task<int> PruneAsync(DateTimeOffset before, int limit, CancellationToken ct = default);
}
