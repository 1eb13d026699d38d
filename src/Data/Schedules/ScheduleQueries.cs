using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Schedules;

public sealed record ScheduleRow(Schedule Schedule, FiringView? LastFiring);

public sealed record SchedulePage(IReadOnlyList<ScheduleRow> Items, int Total);

/// <summary>Read models for the console's schedule pages and the API's list: paged and filtered in the database.</summary>
public sealed class ScheduleQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    /// <param name="search">Part of the name (case as stored).</param>
    public async Task<SchedulePage> PageAsync(string? search, bool? enabled, int skip, int take, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = db.Schedules.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search)) query = query.Where(s => s.Name.Contains(search.Trim()));
        if (enabled is { } on) query = query.Where(s => s.Enabled == on);
        var total = await query.CountAsync(ct);
        var items = await query.OrderBy(s => s.Name).Skip(skip).Take(take).ToListAsync(ct);
        var ids = items.Select(s => s.Id).ToList();
        var latest = db.ScheduleFirings.Where(f => ids.Contains(f.ScheduleId)).GroupBy(f => f.ScheduleId).Select(g => g.Max(f => f.Id));
        var firings = (await ScheduleStore.Views(db, db.ScheduleFirings.AsNoTracking().Where(f => latest.Contains(f.Id)), ct))
            .ToDictionary(v => v.Firing.ScheduleId);
        return new SchedulePage(items.Select(s => new ScheduleRow(s, firings.GetValueOrDefault(s.Id))).ToList(), total);
    }

    public async Task<(Schedule Schedule, IReadOnlyList<FiringView> Firings)?> DetailAsync(string name, int firings, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var schedule = await db.Schedules.AsNoTracking().FirstOrDefaultAsync(s => s.Name == name, ct);
        if (schedule is null) return null;
        var list = await ScheduleStore.Views(db, db.ScheduleFirings.AsNoTracking().Where(f => f.ScheduleId == schedule.Id).OrderByDescending(f => f.Id).Take(firings), ct);
        return (schedule, list);
    }
}
