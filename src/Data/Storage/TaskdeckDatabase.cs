using System.Data.Common;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Npgsql;
using Taskdeck.Core;

namespace Taskdeck.Data.Storage;

/// <summary>The configured provider and connection, and the few SQL differences the hand-written hot path meets.</summary>
/// <param name="connections">Makes the hand-written path's connections instead of the provider's own: the SQL Server
/// check renders every statement through a recording connection, as no SQL Server can run where the tests run.</param>
/// <param name="writers">How many group-commit writers the <see cref="WriteQueue"/> runs in parallel (SQLite: one).</param>
public sealed class TaskdeckDatabase(StorageProvider provider, string connectionString, Func<DbConnection>? connections = null, int? writers = null)
{
    public StorageProvider Provider { get; } = provider;
    public string ConnectionString { get; } = connectionString;

    /// <summary>
    /// How many group-commit writers run when the configuration does not say. SQLite has one writer at a time whatever we
    /// do. PostgreSQL gets one as well, measured: with one writer each commit carries every write gathered meanwhile, and
    /// the server spent 525–745 µs of CPU per execution against 813–1,193 µs with four (1,305–1,696 executions/s against
    /// 1,066–1,183/s, `engine 20000 3 --storage postgresql`, BENCHMARKS.md session 28) — a commit, its WAL flush and its
    /// snapshot cost the server more than the statements it carries. SQL Server keeps four: not measured (none runs here).
    /// </summary>
    public static int DefaultWriters(StorageProvider provider) => provider == StorageProvider.SqlServer ? 4 : 1;

    public int Writers { get; } = provider == StorageProvider.Sqlite ? 1 : writers ?? DefaultWriters(provider);

    /// <summary>
    /// PostgreSQL: the connection string of the hot path's connections (the writers', the kept readers') and Hangfire's.
    /// A statement a physical connection has sent twice is prepared there, and stays prepared when the pool hands the
    /// connection out again, so it is parsed and planned once: these send the same few statement texts all day. Planned at
    /// every call, the DAG scheduler's children read spent 296 µs planning for 63 µs of execution at each parent's success,
    /// and a record read 118 µs for 18 (BENCHMARKS.md, session 24). The console's queries (EF Core) keep the plain string:
    /// their filters vary, and a generic plan chosen for a skewed state filter was not measured. A setting the operator
    /// wrote is kept: <c>Max Auto Prepare=0</c> turns preparing off, as a PgBouncer in transaction mode without prepared
    /// statement support needs.
    /// </summary>
    public string PreparingConnectionString => _preparingConnectionString ??= Provider == StorageProvider.PostgreSql
        ? Preparing(ConnectionString)
        : ConnectionString;

    private string? _preparingConnectionString;

    private static string Preparing(string written)
    {
        // The plain builder keeps the keys as written (Npgsql's own answers every key it knows); Npgsql reads a key in any
        // case and with or without its spaces.
        var keys = new DbConnectionStringBuilder { ConnectionString = written }.Keys.Cast<string>()
            .Select(key => key.Replace(" ", "")).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var builder = new NpgsqlConnectionStringBuilder(written);
        if (!keys.Contains("MaxAutoPrepare")) builder.MaxAutoPrepare = 64;
        if (!keys.Contains("AutoPrepareMinUsages")) builder.AutoPrepareMinUsages = 2;
        return builder.ToString();
    }

    /// <summary>
    /// A writer's connection: the preparing string under an application name of its own, so the writers have a pool of
    /// their own — a reconnecting writer never waits behind Hangfire's workers, the console and the kept readers for a
    /// pooled connection — and show apart in <c>pg_stat_activity</c>. <paramref name="alone"/>: the name ends in
    /// <see cref="AloneWriterSuffix"/>, which the <c>StateChanges</c> trigger reads as "notify nobody" (a second pool; an
    /// application name is a connection's start-up setting, which a PgBouncer in transaction mode also carries over).
    /// </summary>
    public DbConnection CreateWriterConnection(bool alone = false) => connections is null && Provider == StorageProvider.PostgreSql
        ? new NpgsqlConnection(alone
            ? _aloneWriterConnectionString ??= WriterConnectionString(AloneWriterSuffix)
            : _writerConnectionString ??= WriterConnectionString(" writer"))
        : CreateConnection();

    /// <summary>How a writer's application name ends while its node is alone on the database (migration <c>StateChangesNotifyNotFromALoneNode</c>).</summary>
    public const string AloneWriterSuffix = " writer (alone)";

    private string? _writerConnectionString;
    private string? _aloneWriterConnectionString;

    private string WriterConnectionString(string suffix)
    {
        var builder = new NpgsqlConnectionStringBuilder(PreparingConnectionString);
        builder.ApplicationName = (string.IsNullOrEmpty(builder.ApplicationName) ? "Taskdeck" : builder.ApplicationName) + suffix;
        return builder.ToString();
    }

    public DbConnection CreateConnection() => connections?.Invoke() ?? Provider switch
    {
        StorageProvider.Sqlite => new SqliteConnection(ConnectionString),
        StorageProvider.PostgreSql => new NpgsqlConnection(PreparingConnectionString),
        StorageProvider.SqlServer => new SqlConnection(ConnectionString),
        _ => throw new ArgumentOutOfRangeException(nameof(Provider)),
    };

    /// <summary>
    /// Drops the idle connections the provider pools for this database (the ones in use are dropped when returned):
    /// after a server restart they are all dead, and a pool hands them out without checking.
    /// </summary>
    public void ClearPool()
    {
        if (connections is not null) return;
        switch (Provider)
        {
            case StorageProvider.PostgreSql:
                // Four pools: the plain string's (the console's queries), the preparing string's, the writers' (two names).
                using (var connection = new NpgsqlConnection(ConnectionString)) NpgsqlConnection.ClearPool(connection);
                using (var preparing = new NpgsqlConnection(PreparingConnectionString)) NpgsqlConnection.ClearPool(preparing);
                using (var writer = CreateWriterConnection()) NpgsqlConnection.ClearPool((NpgsqlConnection)writer);
                using (var alone = CreateWriterConnection(alone: true)) NpgsqlConnection.ClearPool((NpgsqlConnection)alone);
                break;
            case StorageProvider.SqlServer:
                using (var connection = new SqlConnection(ConnectionString)) SqlConnection.ClearPool(connection);
                break;
        }
    }

    /// <summary>An INSERT that answers the new row's <paramref name="id"/>; names as SQL writes them (<see cref="Schema"/>), each value bound as @ its column.</summary>
    public string InsertReturningId(string table, string id, IReadOnlyList<string> columns)
    {
        var names = string.Join(", ", columns);
        var values = string.Join(", ", columns.Select(c => "@" + Schema.Unquoted(c)));
        return Provider == StorageProvider.SqlServer
            ? $"INSERT INTO {table} ({names}) OUTPUT INSERTED.{id} VALUES ({values})"
            : $"INSERT INTO {table} ({names}) VALUES ({values}) RETURNING {id}";
    }

    /// <summary>A SELECT of the first row only: <paramref name="rest"/> is what follows SELECT, its ORDER BY included.</summary>
    public string SelectFirst(string rest) => Provider == StorageProvider.SqlServer ? $"SELECT TOP (1) {rest}" : $"SELECT {rest} LIMIT 1";

    /// <summary>Runs once per new connection of the writer.</summary>
    public async Task PrepareWriterAsync(DbConnection connection, CancellationToken ct)
    {
        if (Provider != StorageProvider.Sqlite) return;
        await using var command = connection.CreateCommand();
        // WAL lets readers go on while the one writer commits; NORMAL is durable across process crashes in WAL mode.
        // No automatic checkpoints on the writer's commits: WalCheckpointer copies the WAL back beside it.
        // SQLite's default page cache (2 MB): the writer's pages are the tables' and indexes' newest, and a 64 MB cache
        // made every commit slower (SQLite's cache truncation at each commit, 3.5–5 % of the node's CPU in the engine
        // bench; 74–79 % of raw Hangfire's rate against 81–88 % with the default, BENCHMARKS.md session 15).
        command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;";
        await command.ExecuteNonQueryAsync(ct);
    }
}
