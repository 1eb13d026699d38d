using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Bulk;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Bulk;

/// <summary>Bulk acts: writes through the <see cref="WriteQueue"/> (the cursor is advanced beside the engine's writes), reads with EF Core.</summary>
public sealed class BulkActionStore(IDbContextFactory<TaskdeckDbContext> contexts, TaskdeckDatabase database, WriteQueue writes) : IBulkActionStore
{
    private static readonly string[] Columns =
    [
        BulkActionColumns.Kind, BulkActionColumns.DagRunId, BulkActionColumns.IdsJson, BulkActionColumns.FilterJson, BulkActionColumns.ActorName,
        BulkActionColumns.ActorKind, BulkActionColumns.ActorAddress, BulkActionColumns.Reason, BulkActionColumns.Total, BulkActionColumns.Applied,
        BulkActionColumns.Skipped, BulkActionColumns.Phase, BulkActionColumns.LastId, BulkActionColumns.NodeId, BulkActionColumns.CreatedAt,
        BulkActionColumns.UpdatedAt,
    ];

    private readonly string _insert = database.InsertReturningId(BulkActionColumns.Table, BulkActionColumns.Id, Columns);

    public Task<long> CreateAsync(BulkAction a, CancellationToken ct = default) =>
        writes.RunAsync(async (c, t) => Convert.ToInt64(await Sql.ScalarAsync(c, t, _insert,
            ("Kind", (int)a.Kind), ("DagRunId", a.DagRunId), ("IdsJson", a.IdsJson), ("FilterJson", a.FilterJson), ("ActorName", a.ActorName),
            ("ActorKind", (int)a.ActorKind), ("ActorAddress", a.ActorAddress), ("Reason", a.Reason), ("Total", a.Total), ("Applied", a.Applied),
            ("Skipped", a.Skipped), ("Phase", a.Phase), ("LastId", a.LastId), ("NodeId", a.NodeId), ("CreatedAt", Sql.Micros(a.CreatedAt)),
            ("UpdatedAt", Sql.Micros(a.UpdatedAt)))), ct);

    public async Task<BulkAction?> FindAsync(long id, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.BulkActions.AsNoTracking().FirstOrDefaultAsync(b => b.Id == id, ct);
    }

    public async Task<IReadOnlyList<BulkAction>> ClaimableAsync(string nodeId, DateTimeOffset leaseCutoff, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.BulkActions.AsNoTracking()
            .Where(b => b.FinishedAt == null)
            .Where(b => b.NodeId == null || b.NodeId == nodeId
                || !db.WorkerNodes.Any(n => n.Id == b.NodeId && n.HeartbeatAt >= leaseCutoff && n.StoppedAt == null))
            .OrderBy(b => b.Id).Take(100).ToListAsync(ct);
    }

    public Task<bool> ClaimAsync(long id, string nodeId, DateTimeOffset leaseCutoff, CancellationToken ct = default) =>
        writes.RunAsync(async (c, t) => await Sql.ExecuteAsync(c, t,
            $"UPDATE {BulkActionColumns.Table} SET {BulkActionColumns.NodeId} = @Node WHERE {BulkActionColumns.Id} = @Id AND {BulkActionColumns.FinishedAt} IS NULL " +
            $"AND ({BulkActionColumns.NodeId} IS NULL OR {BulkActionColumns.NodeId} = @Node OR NOT EXISTS (SELECT 1 FROM {WorkerNodeColumns.Table} n " +
            $"WHERE n.{WorkerNodeColumns.Id} = {BulkActionColumns.Table}.{BulkActionColumns.NodeId} AND n.{WorkerNodeColumns.HeartbeatAt} >= @Cutoff AND n.{WorkerNodeColumns.StoppedAt} IS NULL))",
            ("Node", nodeId), ("Id", id), ("Cutoff", Sql.Micros(leaseCutoff))) == 1, ct);

    public Task ReleaseAsync(long id, string nodeId, CancellationToken ct = default) =>
        writes.RunAsync((c, t) => Sql.ExecuteAsync(c, t,
            $"UPDATE {BulkActionColumns.Table} SET {BulkActionColumns.NodeId} = NULL WHERE {BulkActionColumns.Id} = @Id AND {BulkActionColumns.NodeId} = @Node",
            ("Id", id), ("Node", nodeId)), ct);

    public Task AdvanceAsync(long id, int phase, long cursor, int applied, int skipped, DateTimeOffset at, CancellationToken ct = default) =>
        writes.RunAsync((c, t) => Sql.ExecutePreparedAsync(c, t,
            $"UPDATE {BulkActionColumns.Table} SET {BulkActionColumns.Phase} = @Phase, {BulkActionColumns.LastId} = @LastId, {BulkActionColumns.Applied} = @Applied, " +
            $"{BulkActionColumns.Skipped} = @Skipped, {BulkActionColumns.UpdatedAt} = @At WHERE {BulkActionColumns.Id} = @Id",
            ("Phase", phase), ("LastId", cursor), ("Applied", applied), ("Skipped", skipped), ("At", Sql.Micros(at)), ("Id", id)), ct);

    public Task FinishAsync(long id, int applied, int skipped, DateTimeOffset at, CancellationToken ct = default) =>
        writes.RunAsync((c, t) => Sql.ExecutePreparedAsync(c, t,
            $"UPDATE {BulkActionColumns.Table} SET {BulkActionColumns.Applied} = @Applied, {BulkActionColumns.Skipped} = @Skipped, {BulkActionColumns.UpdatedAt} = @At, " +
            $"{BulkActionColumns.FinishedAt} = @At WHERE {BulkActionColumns.Id} = @Id",
            ("Applied", applied), ("Skipped", skipped), ("At", Sql.Micros(at)), ("Id", id)), ct);

    public async Task<BulkAction?> UnfinishedForRunAsync(long dagRunId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.BulkActions.AsNoTracking().Where(b => b.DagRunId == dagRunId && b.FinishedAt == null).OrderBy(b => b.Id).FirstOrDefaultAsync(ct);
    }
}
