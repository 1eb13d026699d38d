using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;

namespace Taskdeck.Data.Storage;

/// <summary>
/// Open connections for the hand-written hot path's reads, kept with their prepared statements rather than opened per
/// read: on SQLite, opening a connection (EF Core's too) and preparing a statement cost several times a short read; on
/// PostgreSQL, planning one (<see cref="TaskdeckDatabase.PreparingConnectionString"/>). The
/// engine's record reads and the DAG scheduler's per-success questions go through here; the console's queries use EF Core.
/// </summary>
public sealed class KeptReaders(TaskdeckDatabase database) : IDisposable
{
    private const int MaxKept = 32;
    private readonly ConcurrentBag<DbConnection> _kept = new();
    private volatile bool _broken;

    /// <summary>
    /// Runs <paramref name="sql"/> with its values (each named @Name in the text) and reads every row with
    /// <paramref name="read"/>. After a server restart every kept connection is dead: the first read to find so drops
    /// them all and tries once more on a new one.
    /// </summary>
    public async Task<List<T>> ReadAsync<T>(string sql, (string Name, object? Value)[] parameters, Func<DbDataReader, T> read, CancellationToken ct)
    {
        try
        {
            return await ReadOnceAsync(sql, parameters, read, ct);
        }
        catch (Exception) when (_broken)
        {
            _broken = false;
            while (_kept.TryTake(out var dead)) await dead.DisposeAsync();
            database.ClearPool();
            return await ReadOnceAsync(sql, parameters, read, ct);
        }
    }

    private async Task<List<T>> ReadOnceAsync<T>(string sql, (string Name, object? Value)[] parameters, Func<DbDataReader, T> read, CancellationToken ct)
    {
        if (!_kept.TryTake(out var connection))
        {
            connection = database.CreateConnection();
            await connection.OpenAsync(ct);
        }
        var keep = true;
        try
        {
            var command = Sql.Reused(connection, null, sql, parameters);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var rows = new List<T>(1);
            while (await reader.ReadAsync(ct)) rows.Add(read(reader));
            return rows;
        }
        catch
        {
            keep = false;
            if (connection.State != ConnectionState.Open) _broken = true;
            throw;
        }
        finally
        {
            if (keep && _kept.Count < MaxKept) _kept.Add(connection);
            else await connection.DisposeAsync();
        }
    }

    public void Dispose()
    {
        while (_kept.TryTake(out var connection)) connection.Dispose();
    }
}
