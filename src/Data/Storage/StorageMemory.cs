using Microsoft.Data.Sqlite;
using Taskdeck.Core;

namespace Taskdeck.Data.Storage;

/// <summary>
/// The memory SQLite keeps for speed, given back once a burst is over. Every pooled reader connection keeps its own page
/// cache (SQLite's default, up to 2 MB, as the writer's: <see cref="TaskdeckDatabase.PrepareWriterAsync"/>) and prepared
/// statements — one connection per concurrent read: a console with many live pages opens many — and none of it is ever
/// released while the process lives. <see cref="ReleaseAsync"/> shrinks the writer's cache on its own connection
/// (<c>PRAGMA shrink_memory</c>, between two group commits) and closes the idle reader connections; the next read opens
/// one again and its pages come back from the system's file cache. Nothing to do on a server database.
/// </summary>
public sealed class StorageMemory(TaskdeckDatabase database, WriteQueue writes)
{
    /// <summary>What SQLite holds in this process now (every connection's caches, statements and schemas), in bytes; 0 on a server database.</summary>
    public long SqliteBytes => database.Provider == StorageProvider.Sqlite ? SQLitePCL.raw.sqlite3_memory_used() : 0;

    public async Task ReleaseAsync(CancellationToken ct = default)
    {
        if (database.Provider != StorageProvider.Sqlite) return;
        await writes.RunAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "PRAGMA shrink_memory;";
            await command.ExecuteNonQueryAsync(ct);
            return 0;
        }, ct);
        SqliteConnection.ClearAllPools();
    }
}
