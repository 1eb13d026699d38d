using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.WorkTasks;

public sealed record WorkTaskRow(WorkTask Task, long ExecutionId, ExecutionState State, int Priority, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    double Cores, long MemoryMB, int Gpus, int AttemptCount);

public sealed record WorkTaskFilter(string? Type, string? ProjectId, IReadOnlyList<ExecutionState>? States);

/// <summary>One group of work tasks: its state (and whether the current attempt's spawned worker reported it started) and type.</summary>
public sealed record WorkTaskCount(ExecutionState State, ExecutorKind Kind, bool WorkerStarted, string Type, int Count);

/// <summary>One group of executions for metrics: state and task name.</summary>
public sealed record ExecutionCount(ExecutionState State, string Name, int Count);

/// <summary>How many executions are in a state on one queue.</summary>
public sealed record QueueStateCount(ExecutionState State, string Queue, int Count);

/// <summary>Aggregates for the queue length and the metrics, computed in the database at request time.</summary>
public sealed class WorkTaskQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    private static readonly ExecutionState[] Waiting = [ExecutionState.Pending, ExecutionState.Scheduled, ExecutionState.Queued];

    /// <summary>Work tasks not yet started: queued, scheduled, or waiting for their external worker.</summary>
    public async Task<int> QueueLengthAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.WorkTasks.AsNoTracking()
            .Join(db.Executions, w => w.ExecutionId, e => e.Id, (w, e) => e.State)
            .CountAsync(s => Waiting.Contains(s), ct);
    }

    public async Task<IReadOnlyList<WorkTaskCount>> CountWorkTasksAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.WorkTasks.AsNoTracking()
            .Join(db.Executions, w => w.ExecutionId, e => e.Id, (w, e) => new { e.State, e.Kind, Started = w.WorkerStartedAttempt == e.AttemptCount, w.Type })
            .GroupBy(x => new { x.State, x.Kind, x.Started, x.Type })
            .Select(g => new { g.Key.State, g.Key.Kind, g.Key.Started, g.Key.Type, Count = g.Count() })
            .ToListAsync(ct);
        return rows.Select(r => new WorkTaskCount(r.State, r.Kind, r.Started, r.Type, r.Count)).ToList();
    }

    /// <summary>Every execution (work task or not) by state and name.</summary>
    public async Task<IReadOnlyList<ExecutionCount>> CountExecutionsAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking()
            .GroupBy(e => new { e.State, e.Name })
            .Select(g => new { g.Key.State, g.Key.Name, Count = g.Count() })
            .ToListAsync(ct);
        return rows.Select(r => new ExecutionCount(r.State, r.Name, r.Count)).ToList();
    }

    /// <summary>Every execution by state and queue (django-ray's metric families are cut this way).</summary>
    public async Task<IReadOnlyList<QueueStateCount>> CountExecutionsByQueueAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking()
            .GroupBy(e => new { e.State, e.Queue })
            .Select(g => new { g.Key.State, g.Key.Queue, Count = g.Count() })
            .ToListAsync(ct);
        return rows.Select(r => new QueueStateCount(r.State, r.Queue, r.Count)).ToList();
    }

    /// <summary>Nodes whose lease is fresh and which run workers.</summary>
    public async Task<int> LiveWorkerNodesAsync(DateTimeOffset leaseCutoff, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.WorkerNodes.AsNoTracking().CountAsync(n => n.HeartbeatAt >= leaseCutoff && n.StoppedAt == null && n.WorkerCount > 0, ct);
    }

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
