using System.Data.Common;
using Taskdeck.Core;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Schedules;

/// <summary>
/// The firing row of a schedule's slot, written inside the transaction of the run it starts. Its unique index on
/// (ScheduleId, Slot) is the guarantee: a second writer of the same slot (another node, a restarted one) inserts
/// nothing and learns so without an error, so the rest of its group-commit batch goes on.
/// </summary>
internal static class SlotClaims
{
    private const string Columns =
        $"{ScheduleFiringColumns.ScheduleId}, {ScheduleFiringColumns.Slot}, {ScheduleFiringColumns.FiredAt}, {ScheduleFiringColumns.Kind}, " +
        $"{ScheduleFiringColumns.Outcome}, {ScheduleFiringColumns.NodeId}, {ScheduleFiringColumns.Message}";
    private const string Values = "@ScheduleId, @Slot, @FiredAt, @Kind, @Outcome, @NodeId, @Message";

    /// <summary>The firing's id, or null when the slot was already handled (nothing written).</summary>
    public static async Task<long?> ClaimAsync(TaskdeckDatabase database, DbConnection c, DbTransaction t, SlotClaim claim, FiringOutcome outcome)
    {
        var slot = Sql.Micros(claim.Slot);
        if (claim.BufferedFiringId is { } buffered)
        {
            var promoted = await Sql.ExecuteAsync(c, t,
                $"UPDATE {ScheduleFiringColumns.Table} SET {ScheduleFiringColumns.Outcome} = @Outcome, {ScheduleFiringColumns.FiredAt} = @FiredAt, " +
                $"{ScheduleFiringColumns.NodeId} = @NodeId, {ScheduleFiringColumns.Message} = @Message WHERE {ScheduleFiringColumns.Id} = @Id AND {ScheduleFiringColumns.Outcome} = @Buffered",
                ("Outcome", (int)outcome), ("FiredAt", Sql.Micros(claim.FiredAt)), ("NodeId", claim.NodeId), ("Message", Cut(claim.Message)), ("Id", buffered),
                ("Buffered", (int)FiringOutcome.Buffered));
            return promoted == 1 ? buffered : null;
        }
        var sql = database.Provider == StorageProvider.SqlServer
            // Key-range locks make a concurrent writer of the same slot wait for this transaction, then see its row.
            ? $"INSERT INTO {ScheduleFiringColumns.Table} ({Columns}) OUTPUT INSERTED.{ScheduleFiringColumns.Id} SELECT {Values} WHERE NOT EXISTS " +
              $"(SELECT 1 FROM {ScheduleFiringColumns.Table} WITH (UPDLOCK, HOLDLOCK) WHERE {ScheduleFiringColumns.ScheduleId} = @ScheduleId AND {ScheduleFiringColumns.Slot} = @Slot)"
            : $"INSERT INTO {ScheduleFiringColumns.Table} ({Columns}) VALUES ({Values}) ON CONFLICT DO NOTHING RETURNING {ScheduleFiringColumns.Id}";
        var id = await Sql.ScalarPreparedAsync(c, t, sql, ("ScheduleId", claim.ScheduleId), ("Slot", slot), ("FiredAt", Sql.Micros(claim.FiredAt)),
            ("Kind", (int)claim.Kind), ("Outcome", (int)outcome), ("NodeId", claim.NodeId), ("Message", Cut(claim.Message)));
        if (id is null) return null;
        if (claim.AdvancesLastSlot)
            await Sql.ExecutePreparedAsync(c, t,
                $"UPDATE {ScheduleColumns.Table} SET {ScheduleColumns.LastSlot} = @Slot WHERE {ScheduleColumns.Id} = @ScheduleId " +
                $"AND ({ScheduleColumns.LastSlot} IS NULL OR {ScheduleColumns.LastSlot} < @Slot)",
                ("Slot", slot), ("ScheduleId", claim.ScheduleId));
        return Convert.ToInt64(id);
    }

    public static Task<int> AttachAsync(DbConnection c, DbTransaction t, long firingId, long? executionId, long? dagRunId) =>
        Sql.ExecutePreparedAsync(c, t,
            $"UPDATE {ScheduleFiringColumns.Table} SET {ScheduleFiringColumns.ExecutionId} = @Execution, {ScheduleFiringColumns.DagRunId} = @Run WHERE {ScheduleFiringColumns.Id} = @Id",
            ("Execution", executionId), ("Run", dagRunId), ("Id", firingId));

    private static string? Cut(string? message) => message is { Length: > 2000 } ? message[..2000] : message;
}
