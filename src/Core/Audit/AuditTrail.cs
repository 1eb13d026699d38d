using Microsoft.Extensions.Logging;

namespace Taskdeck.Core.Audit;

/// <summary>Stamps the time and stores the entry.</summary>
public sealed class AuditTrail(IAuditStore store, TimeProvider time, ILogger<AuditTrail> logger) : IAuditTrail
{
    public async Task RecordAsync(AuditRecord record, CancellationToken ct = default)
    {
        var entry = new AuditEntry
        {
            At = time.GetUtcNow(),
            ActorName = Cut(record.Actor.Name, 200) ?? "",
            ActorKind = record.Actor.Kind,
            Address = Cut(record.Actor.Address, 64),
            Action = Cut(record.Action, 60) ?? "",
            RecordType = Cut(record.RecordType, 40),
            RecordIds = AuditRecord.JoinIds(record.RecordIds),
            Filter = Cut(record.Filter, 2000),
            Count = record.Count,
            Outcome = record.Outcome,
            Reason = Cut(record.Reason, 1000),
        };
        try
        {
            // The act has already happened: a failed audit write must not report the act itself as failed.
            await store.AppendAsync(entry, CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Could not record {Action} by {Actor} ({Kind}) in the audit trail", entry.Action, entry.ActorName, entry.ActorKind);
        }
    }

    private static string? Cut(string? text, int max) => text is null || text.Length <= max ? text : text[..(max - 1)] + "…";
}
