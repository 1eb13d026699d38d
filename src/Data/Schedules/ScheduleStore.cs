using System.Data.Common;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Taskdeck.Core;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Schedules;

/// <summary>
/// Schedule rows. Writes go through the engine's <see cref="WriteQueue"/> (so on SQLite they never contend with the
/// engine's writes); a write that could break a unique index says so with its answer instead of failing its batch.
/// Reads use EF Core.
/// </summary>
public sealed class ScheduleStore(IDbContextFactory<TaskdeckDbContext> contexts, TaskdeckDatabase database, WriteQueue writes) : IScheduleStore
{
    /// <summary>The stored columns with the schedule's values (the id and the last slot are the database's and the firings').</summary>
    private static (string Column, object? Value)[] Row(Schedule s) =>
    [
        (ScheduleColumns.Name, s.Name), (ScheduleColumns.Description, s.Description), (ScheduleColumns.Cron, s.Cron), (ScheduleColumns.TimeZone, s.TimeZone),
        (ScheduleColumns.Enabled, s.Enabled), (ScheduleColumns.Overlap, (int)s.Overlap), (ScheduleColumns.CatchUp, (int)s.CatchUp),
        (ScheduleColumns.StartAt, Sql.Micros(s.StartAt)), (ScheduleColumns.EndAt, Sql.Micros(s.EndAt)), (ScheduleColumns.JitterSeconds, s.JitterSeconds),
        (ScheduleColumns.Kind, (int)s.Kind), (ScheduleColumns.Task, s.Task), (ScheduleColumns.ArgsJson, s.ArgsJson),
        (ScheduleColumns.Command, JsonSerializer.Serialize(s.Command)), (ScheduleColumns.Environment, JsonSerializer.Serialize(s.Environment)),
        (ScheduleColumns.WorkingDirectory, s.WorkingDirectory), (ScheduleColumns.DagJson, s.DagJson), (ScheduleColumns.Queue, s.Queue),
        (ScheduleColumns.Priority, s.Priority), (ScheduleColumns.Tags, JsonSerializer.Serialize(s.Tags)), (ScheduleColumns.MaxRetries, s.MaxRetries),
        (ScheduleColumns.RetryIntervalSeconds, s.RetryIntervalSeconds), (ScheduleColumns.TimeoutSeconds, s.TimeoutSeconds),
        (ScheduleColumns.FromConfiguration, s.FromConfiguration), (ScheduleColumns.CreatedAt, Sql.Micros(s.CreatedAt)),
        (ScheduleColumns.UpdatedAt, Sql.Micros(s.UpdatedAt)), (ScheduleColumns.SlotsFrom, Sql.Micros(s.SlotsFrom)),
    ];

    /// <summary>Each value bound as @c0, @c1, … in the row's order.</summary>
    private static (string, object?)[] Parameters((string Column, object? Value)[] row) => row.Select((v, i) => ("c" + i, v.Value)).ToArray();

    public Task<long?> CreateAsync(Schedule schedule, CancellationToken ct = default) =>
        writes.RunAsync<long?>(async (c, t) =>
        {
            var row = Row(schedule);
            var names = string.Join(", ", row.Select(v => v.Column));
            var values = string.Join(", ", row.Select((_, i) => "@c" + i));
            var name = "@c" + Array.FindIndex(row, v => v.Column == ScheduleColumns.Name);
            var sql = database.Provider == StorageProvider.SqlServer
                ? $"INSERT INTO {ScheduleColumns.Table} ({names}) OUTPUT INSERTED.{ScheduleColumns.Id} SELECT {values} WHERE NOT EXISTS " +
                  $"(SELECT 1 FROM {ScheduleColumns.Table} WITH (UPDLOCK, HOLDLOCK) WHERE {ScheduleColumns.Name} = {name})"
                : $"INSERT INTO {ScheduleColumns.Table} ({names}) VALUES ({values}) ON CONFLICT DO NOTHING RETURNING {ScheduleColumns.Id}";
            var id = await Sql.ScalarAsync(c, t, sql, Parameters(row));
            return id is null ? null : Convert.ToInt64(id);
        }, ct);

    public async Task<bool> UpdateAsync(Schedule schedule, CancellationToken ct = default)
    {
        // A rename onto a taken name is refused before the write: the unique index stays the last word between nodes.
        if (await FindByNameAsync(schedule.Name, ct) is { } other && other.Id != schedule.Id) return false;
        try
        {
            return await writes.RunAsync(async (c, t) =>
            {
                var row = Row(schedule).Where(v => v.Column != ScheduleColumns.CreatedAt).ToArray();
                var set = string.Join(", ", row.Select((v, i) => $"{v.Column} = @c{i}"));
                return await Sql.ExecuteAsync(c, t, $"UPDATE {ScheduleColumns.Table} SET {set} WHERE {ScheduleColumns.Id} = @Id",
                    [.. Parameters(row), ("Id", schedule.Id)]) == 1;
            }, ct);
        }
        catch (DbException)
        {
            // Another node took the name between the check and the write.
            if (await FindByNameAsync(schedule.Name, ct) is { } taken && taken.Id != schedule.Id) return false;
            throw;
        }
    }

    public Task<bool> DeleteAsync(long id, CancellationToken ct = default) =>
        writes.RunAsync(async (c, t) =>
        {
            await Sql.ExecuteAsync(c, t, $"DELETE FROM {ScheduleFiringColumns.Table} WHERE {ScheduleFiringColumns.ScheduleId} = @Id", ("Id", id));
            return await Sql.ExecuteAsync(c, t, $"DELETE FROM {ScheduleColumns.Table} WHERE {ScheduleColumns.Id} = @Id", ("Id", id)) == 1;
        }, ct);

    public async Task<Schedule?> FindAsync(long id, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Schedules.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, ct);
    }

    public async Task<Schedule?> FindByNameAsync(string name, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Schedules.AsNoTracking().FirstOrDefaultAsync(s => s.Name == name, ct);
    }

    public async Task<IReadOnlyList<Schedule>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Schedules.AsNoTracking().OrderBy(s => s.Id).ToListAsync(ct);
    }

    public async Task<ScheduleStamp> StampAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var row = await db.Database.SqlQueryRaw<StampRow>(
            $"SELECT CAST(COUNT(*) AS BIGINT) AS \"Count\", CAST(COALESCE(MAX({ScheduleColumns.UpdatedAt}), 0) AS BIGINT) AS \"Latest\" FROM {ScheduleColumns.Table}").SingleAsync(ct);
        return new ScheduleStamp((int)row.Count, row.Latest);
    }

    private sealed class StampRow
    {
        public long Count { get; set; }
        public long Latest { get; set; }
    }

    public Task<bool> RecordAsync(SlotClaim claim, FiringOutcome outcome, CancellationToken ct = default) =>
        writes.RunAsync(async (c, t) => await SlotClaims.ClaimAsync(database, c, t, claim, outcome) is not null, ct);

    public async Task<IReadOnlyList<ActiveRun>> ActiveRunsAsync(string scheduleName, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var executions = await db.Executions.AsNoTracking()
            .Where(e => e.ScheduleName == scheduleName && e.DagRunId == null && !ExecutionStates.Terminal.Contains(e.State))
            .OrderBy(e => e.Id).Select(e => e.Id).Take(100).ToListAsync(ct);
        var runs = await db.DagRuns.AsNoTracking()
            .Where(r => r.ScheduleName == scheduleName && (r.State == DagRunState.Queued || r.State == DagRunState.Running))
            .OrderBy(r => r.Id).Select(r => r.Id).Take(100).ToListAsync(ct);
        return [.. executions.Select(id => new ActiveRun(id, null)), .. runs.Select(id => new ActiveRun(null, id))];
    }

    public async Task<ScheduleFiring?> BufferedAsync(long scheduleId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.ScheduleFirings.AsNoTracking().Where(f => f.Outcome == FiringOutcome.Buffered && f.ScheduleId == scheduleId)
            .OrderBy(f => f.Id).FirstOrDefaultAsync(ct);
    }

    public async Task<IReadOnlyList<FiringView>> FiringsAsync(long scheduleId, long? beforeId, int limit, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var firings = db.ScheduleFirings.AsNoTracking().Where(f => f.ScheduleId == scheduleId);
        if (beforeId is { } before) firings = firings.Where(f => f.Id < before);
        return await Views(db, firings.OrderByDescending(f => f.Id).Take(limit), ct);
    }

    public async Task<IReadOnlyDictionary<long, FiringView>> LatestFiringsAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var latest = db.ScheduleFirings.GroupBy(f => f.ScheduleId).Select(g => g.Max(f => f.Id));
        var views = await Views(db, db.ScheduleFirings.AsNoTracking().Where(f => latest.Contains(f.Id)), ct);
        return views.ToDictionary(v => v.Firing.ScheduleId);
    }

    /// <summary>Each firing with the state its run is in now.</summary>
    internal static async Task<IReadOnlyList<FiringView>> Views(TaskdeckDbContext db, IQueryable<ScheduleFiring> firings, CancellationToken ct)
    {
        var rows = await firings.Select(f => new
        {
            Firing = f,
            Execution = db.Executions.Where(e => e.Id == f.ExecutionId).Select(e => (ExecutionState?)e.State).FirstOrDefault(),
            Run = db.DagRuns.Where(r => r.Id == f.DagRunId).Select(r => (DagRunState?)r.State).FirstOrDefault(),
        }).ToListAsync(ct);
        return rows.Select(r => new FiringView(r.Firing, r.Execution, r.Run)).ToList();
    }
}
