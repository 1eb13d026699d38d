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

    public Task<bool> RecordWorkerEndAsync(long executionId, IReadOnlyList<ExecutionState> states, int attempt, string? outputLocation, string? metadataJson,
        CancellationToken ct = default)
    {
        if (outputLocation is null && metadataJson is null) throw new ArgumentException("An end report to keep has an output location or metadata.", nameof(outputLocation));
        return UpdateWhileAtAttemptAsync(executionId, states, attempt, set =>
        {
            if (outputLocation is not null) set.SetProperty(w => w.OutputLocation, outputLocation);
            if (metadataJson is not null) set.SetProperty(w => w.MetadataJson, metadataJson);
        }, ct);
    }

    public async Task RecordRetryReasonAsync(long executionId, string retryReason, CancellationToken ct = default)
    {
        using var turn = await gate.EnterAsync(ct);
        await using var db = await contexts.CreateDbContextAsync(ct);
        await db.WorkTasks.Where(w => w.ExecutionId == executionId).ExecuteUpdateAsync(set => set.SetProperty(w => w.RetryReason, retryReason), ct);
    }

    public Task<bool> RecordWorkerReportAsync(long executionId, ExecutionState state, int attempt, string? metadataJson, bool started, CancellationToken ct = default)
    {
        if (metadataJson is null && !started) throw new ArgumentException("A worker report to keep has metadata, or says the worker started.", nameof(metadataJson));
        return UpdateWhileAtAttemptAsync(executionId, [state], attempt, set =>
        {
            if (metadataJson is not null) set.SetProperty(w => w.MetadataJson, metadataJson);
            if (started) set.SetProperty(w => w.WorkerStartedAttempt, attempt);
        }, ct);
    }

    /// <summary>
    /// One guarded UPDATE of a work task for what its worker reported: the guard is in the statement, so a report read against
    /// a state or attempt that has changed since (the attempt ended, is being cancelled, a later one runs, a cancel or another
    /// end won) writes nothing, however it raced the change. Returns whether it applied.
    /// </summary>
    private async Task<bool> UpdateWhileAtAttemptAsync(long executionId, IReadOnlyList<ExecutionState> states, int attempt,
        Action<Microsoft.EntityFrameworkCore.Query.UpdateSettersBuilder<WorkTask>> set, CancellationToken ct)
    {
        using var turn = await gate.EnterAsync(ct);
        await using var db = await contexts.CreateDbContextAsync(ct);
        var updated = await db.WorkTasks
            .Where(w => w.ExecutionId == executionId && db.Executions.Any(e => e.Id == executionId && e.AttemptCount == attempt && states.Contains(e.State)))
            .ExecuteUpdateAsync(set, ct);
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
        var running = await ExternalIn(db, ExecutionState.Running)
            .Where(e => e.TimeoutSeconds != null && e.StartedAt != null)
            .Select(e => new { e.Id, e.AttemptCount, e.StartedAt, e.TimeoutSeconds })
            .ToListAsync(ct);
        return running.Where(e => e.StartedAt!.Value.AddSeconds(e.TimeoutSeconds!.Value) < now).Select(e => (e.Id, e.AttemptCount)).ToList();
    }

    public async Task<IReadOnlyList<(long Id, int Attempt)>> FindCancellingExternalAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await ExternalIn(db, ExecutionState.Cancelling)
            .Select(e => new { e.Id, e.AttemptCount })
            .ToListAsync(ct);
        return rows.Select(r => (r.Id, r.AttemptCount)).ToList();
    }

    /// <summary>External work tasks in one state, from their own partial index (no other record is in it).</summary>
    internal static IQueryable<Execution> ExternalIn(TaskdeckDbContext db, ExecutionState state) =>
        db.Executions.AsNoTracking().Where(e => e.Kind == ExecutorKind.External && e.State == state);
}
