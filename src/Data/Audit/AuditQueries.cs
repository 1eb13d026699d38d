using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Audit;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Audit;

/// <summary>Which audit entries a page or the API lists. Every field is optional.</summary>
public sealed record AuditFilter
{
    /// <summary>The principal's name, exactly.</summary>
    public string? Actor { get; init; }
    public ActorKind? ActorKind { get; init; }
    /// <summary>An action name exactly, or a prefix ending in a dot ("execution.") for every act on a kind of record.</summary>
    public string? Action { get; init; }
    /// <summary>Entries naming this record id (with <see cref="RecordType"/>, of that type only).</summary>
    public string? RecordId { get; init; }
    public string? RecordType { get; init; }
    public AuditOutcome? Outcome { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
}

public sealed record AuditEntryPage(IReadOnlyList<AuditEntry> Items, int Total);

/// <summary>The audit trail's read side: newest first, filtered and paged in the database.</summary>
public sealed class AuditQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    public async Task<AuditEntryPage> PageAsync(AuditFilter filter, int skip, int take, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = Matching(db.AuditEntries.AsNoTracking(), filter);
        var total = await query.CountAsync(ct);
        var items = await query.OrderByDescending(e => e.Id).Skip(skip).Take(take).ToListAsync(ct);
        return new AuditEntryPage(items, total);
    }

    /// <summary>Which of these executions and DAG runs still exist: a page links only to those.</summary>
    public async Task<(IReadOnlySet<long> Executions, IReadOnlySet<long> DagRuns)> ExistingAsync(IEnumerable<AuditEntry> entries, CancellationToken ct = default)
    {
        static List<long> Ids(IEnumerable<AuditEntry> entries, string type) =>
            entries.Where(e => e.RecordType == type).SelectMany(e => e.Ids).Select(i => long.TryParse(i, out var id) ? id : 0).Where(i => i > 0).Distinct().ToList();
        var executionIds = Ids(entries, AuditRecordTypes.Execution);
        var runIds = Ids(entries, AuditRecordTypes.DagRun);
        await using var db = await contexts.CreateDbContextAsync(ct);
        var executions = executionIds.Count == 0 ? [] : await db.Executions.AsNoTracking().Where(e => executionIds.Contains(e.Id)).Select(e => e.Id).ToListAsync(ct);
        var runs = runIds.Count == 0 ? [] : await db.DagRuns.AsNoTracking().Where(r => runIds.Contains(r.Id)).Select(r => r.Id).ToListAsync(ct);
        return (executions.ToHashSet(), runs.ToHashSet());
    }

    /// <summary>The distinct action names stored, for a filter's choices.</summary>
    public async Task<IReadOnlyList<string>> ActionsAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.AuditEntries.AsNoTracking().Select(e => e.Action).Distinct().OrderBy(a => a).ToListAsync(ct);
    }

    private static IQueryable<AuditEntry> Matching(IQueryable<AuditEntry> query, AuditFilter filter)
    {
        if (!string.IsNullOrWhiteSpace(filter.Actor)) query = query.Where(e => e.ActorName == filter.Actor.Trim());
        if (filter.ActorKind is { } kind) query = query.Where(e => e.ActorKind == kind);
        if (!string.IsNullOrWhiteSpace(filter.Action))
        {
            var action = filter.Action.Trim();
            query = action.EndsWith('.') ? query.Where(e => e.Action.StartsWith(action)) : query.Where(e => e.Action == action);
        }
        if (!string.IsNullOrWhiteSpace(filter.RecordType)) query = query.Where(e => e.RecordType == filter.RecordType);
        if (!string.IsNullOrWhiteSpace(filter.RecordId))
        {
            var pattern = AuditRecord.IdPattern(filter.RecordId.Trim());
            query = query.Where(e => EF.Functions.Like(e.RecordIds!, pattern));
        }
        if (filter.Outcome is { } outcome) query = query.Where(e => e.Outcome == outcome);
        if (filter.From is { } from) query = query.Where(e => e.At >= from);
        if (filter.To is { } to) query = query.Where(e => e.At < to);
        return query;
    }
}
