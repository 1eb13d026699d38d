using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.WorkTasks;

public sealed record WorkTaskRow(WorkTask Task, long ExecutionId, ExecutionState State, int Priority, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    double Cores, long MemoryMB, int Gpus, int AttemptCount);

public sealed record WorkTaskFilter(string? Type, string? ProjectId, IReadOnlyList<ExecutionState>? States);

/// <summary>The work-task list: the WorkTasks table joined with the executions that run them.</summary>
public sealed class WorkTaskQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    public async Task<(IReadOnlyList<WorkTaskRow> Items, int Total)> PageAsync(WorkTaskFilter filter, int skip, int take, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = db.WorkTasks.AsNoTracking().Join(db.Executions.AsNoTracking(), w => w.ExecutionId, e => e.Id, (w, e) => new { w, e });
        if (!string.IsNullOrWhiteSpace(filter.Type)) query = query.Where(x => x.w.Type == filter.Type);
        if (!string.IsNullOrWhiteSpace(filter.ProjectId)) query = query.Where(x => x.w.ProjectId == filter.ProjectId);
        if (filter.States is { Count: > 0 } states) query = query.Where(x => states.Contains(x.e.State));
        var total = await query.CountAsync(ct);
        var rows = await query.OrderByDescending(x => x.e.Id).Skip(skip).Take(take)
            .Select(x => new WorkTaskRow(x.w, x.e.Id, x.e.State, x.e.Priority, x.e.CreatedAt, x.e.UpdatedAt, x.e.Cores, x.e.MemoryMB, x.e.Gpus, x.e.AttemptCount))
            .ToListAsync(ct);
        return (rows, total);
    }

    public async Task<IReadOnlyList<string>> TypesAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.WorkTasks.AsNoTracking().Select(w => w.Type).Distinct().OrderBy(t => t).Take(200).ToListAsync(ct);
    }
}
