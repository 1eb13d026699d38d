using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.WorkTasks;

/// <summary>The work-task rows, through EF Core. States are never written here: they belong to the execution store.</summary>
public sealed class WorkTaskStore(IDbContextFactory<TaskdeckDbContext> contexts, WriteGate gate) : IWorkTaskStore
{
    public async Task InsertAsync(WorkTask task, CancellationToken ct = default)
    {
        using var turn = await gate.EnterAsync(ct);
        await using var db = await contexts.CreateDbContextAsync(ct);
        db.WorkTasks.Add(task);
        await db.SaveChangesAsync(ct);
    }

    public async Task<WorkTaskRecord?> FindAsync(string workTaskId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var task = await db.WorkTasks.AsNoTracking().FirstOrDefaultAsync(w => w.WorkTaskId == workTaskId, ct);
        if (task is null) return null;
        var execution = await db.Executions.AsNoTracking().FirstOrDefaultAsync(e => e.Id == task.ExecutionId, ct);
        return execution is null ? null : new WorkTaskRecord(execution, task);
    }

    public async Task<WorkTaskRecord?> FindByExecutionAsync(long executionId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var task = await db.WorkTasks.AsNoTracking().FirstOrDefaultAsync(w => w.ExecutionId == executionId, ct);
        if (task is null) return null;
        var execution = await db.Executions.AsNoTracking().FirstOrDefaultAsync(e => e.Id == executionId, ct);
        return execution is null ? null : new WorkTaskRecord(execution, task);
    }

    public async Task<bool> RecordWorkerEndAsync(long executionId, IReadOnlyList<ExecutionState> states, int attempt, string? outputLocation, string? metadataJson,
        CancellationToken ct = default)
    {
        if (outputLocation is null && metadataJson is null) throw new ArgumentException("An end report to keep has an output location or metadata.", nameof(outputLocation));
        using var turn = await gate.EnterAsync(ct);
        await using var db = await contexts.CreateDbContextAsync(ct);
        // As for progress, the guard is in the statement: an end read against a state or attempt that has changed since (a
        // cancel, another end or the next attempt won) writes nothing.
        var updated = await db.WorkTasks
            .Where(w => w.ExecutionId == executionId && db.Executions.Any(e => e.Id == executionId && e.AttemptCount == attempt && states.Contains(e.State)))
            .ExecuteUpdateAsync(set =>
            {
                if (outputLocation is not null) set.SetProperty(w => w.OutputLocation, outputLocation);
                if (metadataJson is not null) set.SetProperty(w => w.MetadataJson, metadataJson);
            }, ct);
        return updated == 1;
    }

    public async Task RecordRetryReasonAsync(long executionId, string retryReason, CancellationToken ct = default)
    {
        using var turn = await gate.EnterAsync(ct);
        await using var db = await contexts.CreateDbContextAsync(ct);
        await db.WorkTasks.Where(w => w.ExecutionId == executionId).ExecuteUpdateAsync(set => set.SetProperty(w => w.RetryReason, retryReason), ct);
    }

    public async Task<bool> RecordWorkerReportAsync(long executionId, ExecutionState state, int attempt, string? metadataJson, bool started, CancellationToken ct = default)
    {
        if (metadataJson is null && !started) throw new ArgumentException("A worker report to keep has metadata, or says the worker started.", nameof(metadataJson));
        using var turn = await gate.EnterAsync(ct);
        await using var db = await contexts.CreateDbContextAsync(ct);
        // The guard is in the statement: a report read against a state or attempt that has changed since (the attempt ended,
        // is being cancelled, or a later one runs) writes nothing, however the report raced the change.
        var updated = await db.WorkTasks
            .Where(w => w.ExecutionId == executionId && db.Executions.Any(e => e.Id == executionId && e.AttemptCount == attempt && e.State == state))
            .ExecuteUpdateAsync(set =>
            {
                if (metadataJson is not null) set.SetProperty(w => w.MetadataJson, metadataJson);
                if (started) set.SetProperty(w => w.WorkerStartedAttempt, attempt);
            }, ct);
        return updated == 1;
    }

    public async Task SetWorkerTokenAsync(long executionId, int attempt, string tokenHash, CancellationToken ct = default)
    {
        using var turn = await gate.EnterAsync(ct);
        await using var db = await contexts.CreateDbContextAsync(ct);
        await db.WorkTasks.Where(w => w.ExecutionId == executionId)
            .ExecuteUpdateAsync(set => set.SetProperty(w => w.WorkerTokenHash, tokenHash).SetProperty(w => w.WorkerTokenAttempt, attempt), ct);
    }

    public async Task<IReadOnlyList<(long Id, int Attempt)>> FindOverdueExternalAsync(DateTimeOffset now, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        // Few rows (running external tasks with a limit); the deadline arithmetic is done here, the same on every provider.
        var running = await db.Executions.AsNoTracking()
            .Where(e => e.Kind == ExecutorKind.External && e.State == ExecutionState.Running && e.TimeoutSeconds != null && e.StartedAt != null)
            .Select(e => new { e.Id, e.AttemptCount, e.StartedAt, e.TimeoutSeconds })
            .ToListAsync(ct);
        return running.Where(e => e.StartedAt!.Value.AddSeconds(e.TimeoutSeconds!.Value) < now).Select(e => (e.Id, e.AttemptCount)).ToList();
    }

    public async Task<IReadOnlyList<(long Id, int Attempt)>> FindCancellingExternalAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking()
            .Where(e => e.Kind == ExecutorKind.External && e.State == ExecutionState.Cancelling)
            .Select(e => new { e.Id, e.AttemptCount })
            .ToListAsync(ct);
        return rows.Select(r => (r.Id, r.AttemptCount)).ToList();
    }
}
