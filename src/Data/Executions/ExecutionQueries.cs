using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Executions;

public sealed record ExecutionDetail(Execution Execution, IReadOnlyList<Attempt> Attempts, IReadOnlyList<StateChange> History);

public sealed record ExecutionPage(IReadOnlyList<Execution> Items, int Total, bool HasMore);

/// <summary>How many executions a filter matched, and the highest execution id at that moment (of any execution).</summary>
public sealed record ExecutionTally(int Count, long MaxId);

public enum ExecutionSort { Newest, Oldest, RecentlyUpdated, Priority, Name, State }

/// <summary>Read models for the API and the console: filtered, sorted, paged in the database.</summary>
public sealed class ExecutionQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    public async Task<ExecutionDetail?> GetDetailAsync(long id, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var execution = await db.Executions.AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, ct);
        if (execution is null) return null;
        var attempts = await db.Attempts.AsNoTracking().Where(a => a.ExecutionId == id).OrderBy(a => a.Number).ToListAsync(ct);
        var history = await db.StateChanges.AsNoTracking().Where(s => s.ExecutionId == id).OrderBy(s => s.Id).ToListAsync(ct);
        return new ExecutionDetail(execution, attempts, history);
    }

    public async Task<Execution?> FindByTaskIdAsync(string taskId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking().FirstOrDefaultAsync(e => e.TaskId == taskId, ct);
    }

    public async Task<IReadOnlyList<Attempt>> AttemptsAsync(long id, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Attempts.AsNoTracking().Where(a => a.ExecutionId == id).OrderBy(a => a.Number).ToListAsync(ct);
    }

    /// <summary>
    /// Offset paging for grids. <paramref name="withTotal"/> adds a COUNT over the same filter, unless the page itself says
    /// the total: a last page that is not empty, or a first page that is not full. Without it, such a page's total is still
    /// given; otherwise it is -1.
    /// </summary>
    public async Task<ExecutionPage> PageAsync(ExecutionFilter filter, ExecutionSort sort, bool descending, int skip, int take, bool withTotal = true, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var ids = await PageIdsQuery(db, filter, sort, descending, skip, take + 1).ToListAsync(ct);
        var hasMore = ids.Count > take;
        if (hasMore) ids.RemoveAt(ids.Count - 1);
        var rows = ids.Count == 0 ? [] : await db.Executions.AsNoTracking().Where(e => ids.Contains(e.Id)).ToDictionaryAsync(e => e.Id, ct);
        // A row deleted between the two reads is left out (its deletion refreshes a live grid again).
        var items = ids.Where(rows.ContainsKey).Select(id => rows[id]).ToList();
        var total = !hasMore && (ids.Count > 0 || skip == 0) ? skip + ids.Count
            : withTotal ? await db.Executions.AsNoTracking().Matching(filter).CountAsync(ct) : -1;
        return new ExecutionPage(items, total, hasMore);
    }

    /// <summary>
    /// How many executions match <paramref name="filter"/> (only those with an id above <paramref name="afterId"/>, when
    /// given), and the highest id of any execution, read in one statement so that both see the same moment: a count of
    /// what came after it later adds exactly the executions this one did not see, as long as ids are committed in order
    /// (SQLite's one writer; on a server database, with several writers, one that commits after a higher id is missed by such a count).
    /// </summary>
    public async Task<ExecutionTally> TallyAsync(ExecutionFilter filter, long? afterId = null, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var tally = (await TallyQuery(db, filter, afterId).ToListAsync(ct)).SingleOrDefault();
        // No row at all: no execution exists.
        return tally is null ? new ExecutionTally(0, afterId ?? 0) : new ExecutionTally(tally.Count, tally.MaxId ?? 0);
    }

    /// <summary>Two scalar subqueries over one row: one statement, one snapshot (an aggregate grouped by a constant would sort).</summary>
    internal static IQueryable<TallyRow> TallyQuery(TaskdeckDbContext db, ExecutionFilter filter, long? afterId)
    {
        var matching = db.Executions.AsNoTracking().Matching(filter, afterId);
        var all = db.Executions.AsNoTracking();
        return all.OrderBy(e => e.Id).Take(1).Select(_ => new TallyRow { Count = matching.Count(), MaxId = all.Max(e => (long?)e.Id) });
    }

    internal sealed class TallyRow
    {
        public int Count { get; init; }
        public long? MaxId { get; init; }
    }

    /// <summary>
    /// The ids of a page's rows, in order: sorted alone, they come from an index where one covers the filter and the order
    /// (a task name's rows are read from the (Name, State) index), where sorting whole rows read every matching row from
    /// the table — 150 ms for a task with 100,000 executions on SQLite, at every refresh of a grid filtered by it.
    /// </summary>
    internal static IQueryable<long> PageIdsQuery(TaskdeckDbContext db, ExecutionFilter filter, ExecutionSort sort, bool descending, int skip, int take) =>
        Sorted(db.Executions.AsNoTracking().Matching(filter), sort, descending).Skip(skip).Take(take).Select(e => e.Id);

    /// <summary>Keyset paging, newest first: the page after the execution with id <paramref name="beforeId"/>.</summary>
    public async Task<(IReadOnlyList<Execution> Items, bool HasMore)> NewestAsync(ExecutionFilter filter, long? beforeId, int take, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = db.Executions.AsNoTracking().Matching(filter);
        if (beforeId is { } before) query = query.Where(e => e.Id < before);
        var items = await query.OrderByDescending(e => e.Id).Take(take + 1).ToListAsync(ct);
        var hasMore = items.Count > take;
        if (hasMore) items.RemoveAt(items.Count - 1);
        return (items, hasMore);
    }

    public async Task<IReadOnlyDictionary<ExecutionState, int>> CountByStateAsync(ExecutionFilter filter, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking().Matching(filter with { States = null })
            .GroupBy(e => e.State).Select(g => new { State = g.Key, Count = g.Count() }).ToListAsync(ct);
        return rows.ToDictionary(r => r.State, r => r.Count);
    }

    /// <summary>An execution's log lines after an id, in order: of one attempt and one stream, or of all.</summary>
    public async Task<IReadOnlyList<LogEntry>> LogsAsync(long executionId, int? attempt, long afterId = 0, int take = 5000, LogStream? stream = null,
        CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = db.LogEntries.AsNoTracking().Where(l => l.ExecutionId == executionId && l.Id > afterId);
        if (attempt is { } n) query = query.Where(l => l.AttemptNumber == n);
        if (stream is { } only) query = query.Where(l => l.Stream == only);
        return await query.OrderBy(l => l.Id).Take(take).ToListAsync(ct);
    }

    private static IQueryable<Execution> Sorted(IQueryable<Execution> q, ExecutionSort sort, bool descending) => (sort, descending) switch
    {
        (ExecutionSort.Newest, _) => descending ? q.OrderBy(e => e.Id) : q.OrderByDescending(e => e.Id),
        (ExecutionSort.Oldest, _) => descending ? q.OrderByDescending(e => e.Id) : q.OrderBy(e => e.Id),
        (ExecutionSort.RecentlyUpdated, false) => q.OrderByDescending(e => e.UpdatedAt).ThenByDescending(e => e.Id),
        (ExecutionSort.RecentlyUpdated, true) => q.OrderBy(e => e.UpdatedAt).ThenBy(e => e.Id),
        (ExecutionSort.Priority, false) => q.OrderByDescending(e => e.Priority).ThenByDescending(e => e.Id),
        (ExecutionSort.Priority, true) => q.OrderBy(e => e.Priority).ThenBy(e => e.Id),
        (ExecutionSort.Name, false) => q.OrderBy(e => e.Name).ThenByDescending(e => e.Id),
        (ExecutionSort.Name, true) => q.OrderByDescending(e => e.Name).ThenByDescending(e => e.Id),
        (ExecutionSort.State, false) => q.OrderBy(e => e.State).ThenByDescending(e => e.Id),
        (ExecutionSort.State, true) => q.OrderByDescending(e => e.State).ThenByDescending(e => e.Id),
        _ => q.OrderByDescending(e => e.Id),
    };
}
