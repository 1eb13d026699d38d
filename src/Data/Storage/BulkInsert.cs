using System.Data.Common;
using System.Text;
using Taskdeck.Core;

namespace Taskdeck.Data.Storage;

/// <summary>
/// Many rows a statement for bulk writes (a 10,000-task DAG, a batch of submissions): multi-row VALUES, where a
/// column whose value is the same in every row of the statement (state, times, queue, run id, …) is bound once. Tables and
/// columns are named as SQL writes them (<see cref="Schema"/>).
/// </summary>
internal static class BulkInsert
{
    // SQLite finds each bound name by a linear search of the statement's names: binding costs the square of a
    // statement's parameter count, so its statements stay short. Inserting the 10,000-task DAG's executions
    // (28 columns; BENCHMARKS.md): 1 row a statement ≈ 650 ms, 1,000 rows ≈ 850 ms; 25–100 rows ≈ 250–300 ms once
    // full statements are kept prepared (25 rows measured best, by a little).
    private const int SqliteParametersPerStatement = 700;
    private const int MaxRowsPerStatement = 500;

    /// <summary>Inserts the rows; nothing is read back.</summary>
    public static async Task InsertAsync(TaskdeckDatabase database, DbConnection c, DbTransaction t, string table, IReadOnlyList<string> columns,
        IReadOnlyList<object?[]> rows)
    {
        foreach (var (start, count) in Chunks(database, columns.Count, rows.Count))
        {
            var (command, owned) = Statement(database, c, t, table, columns, rows, start, count, returning: null);
            try { await command.ExecuteNonQueryAsync(); }
            finally { if (owned) await command.DisposeAsync(); }
        }
    }

    /// <summary>
    /// Inserts the rows and answers each one's generated <paramref name="idColumn"/>, in the rows' order. <paramref name="keyColumn"/>
    /// must be unique in the table: the ids are matched to rows by it, because no provider promises the order of a multi-row
    /// RETURNING/OUTPUT.
    /// </summary>
    public static async Task<long[]> InsertReturningIdsAsync(TaskdeckDatabase database, DbConnection c, DbTransaction t, string table,
        IReadOnlyList<string> columns, string idColumn, string keyColumn, IReadOnlyList<object?[]> rows)
    {
        var key = IndexOf(columns, keyColumn);
        var rowOfKey = new Dictionary<string, int>(rows.Count, StringComparer.Ordinal);
        for (var i = 0; i < rows.Count; i++)
            if (!rowOfKey.TryAdd((string)rows[i][key]!, i))
                throw new InvalidOperationException($"{Schema.Unquoted(keyColumn)} '{rows[i][key]}' appears twice in one insert.");
        var ids = new long[rows.Count];
        var matched = 0;
        async Task MatchAsync(DbCommand command)
        {
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                if (rowOfKey.TryGetValue(reader.GetString(1), out var row)) { ids[row] = Convert.ToInt64(reader.GetValue(0)); matched++; }
        }

        if (database.Provider == StorageProvider.Sqlite)
        {
            // RETURNING doubles the cost of an insert on SQLite. This writer holds the database's one write lock and
            // the id is AUTOINCREMENT, so the rows get consecutive ids ending at last_insert_rowid(): read back by range,
            // matched by key (a row of the range that is not ours would fail the count below). One row is its own id.
            await InsertAsync(database, c, t, table, columns, rows);
            var last = Convert.ToInt64(await Sql.ScalarPreparedAsync(c, t, "SELECT last_insert_rowid()"));
            if (rows.Count == 1) return [last];
            await MatchAsync(Sql.Reused(c, t, $"SELECT {idColumn}, {keyColumn} FROM {table} WHERE {idColumn} BETWEEN @First AND @Last",
                ("First", last - rows.Count + 1), ("Last", last)));
        }
        else
        {
            foreach (var (start, count) in Chunks(database, columns.Count, rows.Count))
            {
                var (command, owned) = Statement(database, c, t, table, columns, rows, start, count, returning: (idColumn, keyColumn));
                try { await MatchAsync(command); }
                finally { if (owned) await command.DisposeAsync(); }
            }
        }
        if (matched != rows.Count) throw new InvalidOperationException($"{Schema.Unquoted(table)}: {rows.Count} rows inserted but {matched} ids matched to them.");
        return ids;
    }

    private static IEnumerable<(int Start, int Count)> Chunks(TaskdeckDatabase database, int columns, int rows)
    {
        var perStatement = RowsPerStatement(database, columns);
        for (var start = 0; start < rows; start += perStatement)
            yield return (start, Math.Min(perStatement, rows - start));
    }

    // The worst case binds every column of every row: stay under the provider's parameter limit.
    private static int RowsPerStatement(TaskdeckDatabase database, int columns) =>
        Math.Clamp((MaxParameters(database.Provider) - columns) / columns, 1, MaxRowsPerStatement);

    private static int MaxParameters(StorageProvider provider) => provider switch
    {
        StorageProvider.SqlServer => 2_000, // 2,100 less headroom
        StorageProvider.PostgreSql => 65_000,
        _ => SqliteParametersPerStatement, // far under SQLite's own limit (32,766)
    };

    /// <summary>
    /// The statement for rows [start, start + count) and whether the caller disposes it. A statement whose text is the
    /// same for every call (one row; SQLite's JSON form) is the connection's kept, prepared command, not to be disposed.
    /// </summary>
    private static (DbCommand Command, bool Owned) Statement(TaskdeckDatabase database, DbConnection c, DbTransaction t, string table,
        IReadOnlyList<string> columns, IReadOnlyList<object?[]> rows, int start, int count, (string Id, string Key)? returning)
    {
        var names = string.Join(", ", columns);
        var parameters = new List<(string Name, object? Value)>(columns.Count * 2);
        var shared = new bool[columns.Count];
        for (var col = 0; col < columns.Count; col++)
        {
            shared[col] = true;
            var first = rows[start][col];
            for (var i = start + 1; i < start + count && shared[col]; i++) shared[col] = Equals(first, rows[i][col]);
            if (shared[col]) parameters.Add(($"c{col}", first));
        }
        var sql = new StringBuilder(64 + count * columns.Count * 8);
        sql.Append("INSERT INTO ").Append(table).Append(" (").Append(names).Append(')');
        if (returning is { } output && database.Provider == StorageProvider.SqlServer)
            sql.Append(" OUTPUT INSERTED.").Append(output.Id).Append(", INSERTED.").Append(output.Key);
        sql.Append(" VALUES ");
        for (var i = 0; i < count; i++)
        {
            sql.Append(i == 0 ? "(" : ", (");
            for (var col = 0; col < columns.Count; col++)
            {
                if (col > 0) sql.Append(", ");
                if (shared[col]) { sql.Append("@c").Append(col); continue; }
                var name = $"c{col}r{i}";
                sql.Append('@').Append(name);
                parameters.Add((name, rows[start + i][col]));
            }
            sql.Append(')');
        }
        if (returning is { } returned && database.Provider != StorageProvider.SqlServer) sql.Append(" RETURNING ").Append(returned.Id).Append(", ").Append(returned.Key);
        // A full statement of a big insert has the same text as the previous one whenever the rows share the same columns
        // (every chunk of a DAG's tasks): keep it prepared. A last, shorter chunk is used once.
        return count == 1 || count == RowsPerStatement(database, columns.Count)
            ? (Sql.Reused(c, t, sql.ToString(), [.. parameters]), false)
            : (Sql.Command(c, t, sql.ToString(), [.. parameters]), true);
    }

    private static int IndexOf(IReadOnlyList<string> columns, string column)
    {
        for (var i = 0; i < columns.Count; i++)
            if (columns[i] == column) return i;
        throw new ArgumentException($"{column} is not among the inserted columns.", nameof(column));
    }
}
