using Taskdeck.Core;
using Taskdeck.Core.Audit;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Audit;

/// <summary>
/// Appends and prunes audit entries through the <see cref="WriteQueue"/>, so an audit write is ordered after the act it
/// records and never competes with the engine for SQLite's one writer.
/// </summary>
public sealed class AuditStore(TaskdeckDatabase database, WriteQueue writes) : IAuditStore
{
    private const string Insert =
        $"INSERT INTO {AuditEntryColumns.Table} ({AuditEntryColumns.At}, {AuditEntryColumns.ActorName}, {AuditEntryColumns.ActorKind}, {AuditEntryColumns.Address}, " +
        $"{AuditEntryColumns.Action}, {AuditEntryColumns.RecordType}, {AuditEntryColumns.RecordIds}, {AuditEntryColumns.Filter}, {AuditEntryColumns.Count}, " +
        $"{AuditEntryColumns.Outcome}, {AuditEntryColumns.Reason}) " +
        "VALUES (@At, @ActorName, @ActorKind, @Address, @Action, @RecordType, @RecordIds, @Filter, @Count, @Outcome, @Reason)";

    public Task AppendAsync(AuditEntry e, CancellationToken ct = default) =>
        writes.RunAsync((c, t) => Sql.ExecutePreparedAsync(c, t, Insert,
            ("At", Sql.Micros(e.At)), ("ActorName", e.ActorName), ("ActorKind", (int)e.ActorKind), ("Address", e.Address), ("Action", e.Action),
            ("RecordType", e.RecordType), ("RecordIds", e.RecordIds), ("Filter", e.Filter), ("Count", e.Count), ("Outcome", (int)e.Outcome),
            ("Reason", e.Reason)), ct);

    public Task<int> PruneAsync(DateTimeOffset before, int limit, CancellationToken ct = default)
    {
        var sql = database.Provider == StorageProvider.SqlServer
            ? $"DELETE TOP (@Limit) FROM {AuditEntryColumns.Table} WHERE {AuditEntryColumns.At} < @Before"
            : $"DELETE FROM {AuditEntryColumns.Table} WHERE {AuditEntryColumns.Id} IN " +
              $"(SELECT {AuditEntryColumns.Id} FROM {AuditEntryColumns.Table} WHERE {AuditEntryColumns.At} < @Before ORDER BY {AuditEntryColumns.Id} LIMIT @Limit)";
        return writes.RunAsync((c, t) => Sql.ExecuteAsync(c, t, sql, ("Before", Sql.Micros(before)), ("Limit", limit)), ct);
    }
}
