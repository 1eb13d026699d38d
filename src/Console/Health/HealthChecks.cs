using System.Data.Common;
using System.Runtime.InteropServices;
using Hangfire;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;
using Taskdeck.Data.Workers;

namespace Taskdeck.Console.Health;

/// <summary>
/// The database takes a write and answers a read: a transaction that updates this node's lease row to itself, reads it
/// back, and rolls back. EF Core's DbContext check only connects, which a SQLite file always does, so it is not used.
/// On SQLite the files must also still be writable: SQLite hands a new connection a read-write descriptor of the same file
/// left over from an earlier one, so a file made read-only under a running process still takes writes until the next
/// restart — which then fails. The check asks the kernel (access(2), no descriptor: closing one would drop SQLite's locks).
/// </summary>
public sealed class DatabaseRoundTripCheck(TaskdeckDatabase database, WriteGate gate, NodeIdentity node) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (UnwritableSqliteFile() is { } why) return HealthCheckResult.Unhealthy(why);
        try
        {
            // SQLite has one writer at a time: take our turn like every writer of this process, instead of polling the lock.
            using var turn = await gate.EnterAsync(ct);
            await using var connection = Open();
            await connection.OpenAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var written = await ExecuteAsync(connection, transaction,
                $"UPDATE {WorkerNodeColumns.Table} SET {WorkerNodeColumns.HeartbeatAt} = {WorkerNodeColumns.HeartbeatAt} WHERE {WorkerNodeColumns.Id} = @Id", ct);
            await using var read = connection.CreateCommand();
            read.Transaction = transaction;
            read.CommandText = $"SELECT COUNT(*) FROM {WorkerNodeColumns.Table} WHERE {WorkerNodeColumns.Id} = @Id";
            AddId(read);
            var seen = Convert.ToInt64(await read.ExecuteScalarAsync(ct));
            await transaction.RollbackAsync(ct);
            return written == seen
                ? HealthCheckResult.Healthy("a write and a read in one transaction (rolled back)")
                : HealthCheckResult.Unhealthy($"wrote {written} lease row(s) but read back {seen}");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"the database did not take a write: {e.Message}", e);
        }
    }

    private string? UnwritableSqliteFile()
    {
        if (database.Provider != StorageProvider.Sqlite || OperatingSystem.IsWindows()) return null;
        var path = new SqliteConnectionStringBuilder(database.ConnectionString).DataSource;
        if (path == ":memory:") return null;
        foreach (var file in new[] { path, path + "-wal" })
            if (File.Exists(file) && Access(file, WriteOk) != 0)
                return $"the database file {file} does not take a write ({new System.ComponentModel.Win32Exception(Marshal.GetLastPInvokeError()).Message})";
        return null;
    }

    private const int WriteOk = 2;

    [DllImport("libc", EntryPoint = "access", SetLastError = true)]
    private static extern int Access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);

    private DbConnection Open()
    {
        if (database.Provider != StorageProvider.Sqlite) return database.CreateConnection();
        var fresh = new SqliteConnectionStringBuilder(database.ConnectionString) { Pooling = false, DefaultTimeout = 5 };
        return new SqliteConnection(fresh.ToString());
    }

    private async Task<int> ExecuteAsync(DbConnection connection, DbTransaction transaction, string sql, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        AddId(command);
        return await command.ExecuteNonQueryAsync(ct);
    }

    private void AddId(DbCommand command)
    {
        var id = command.CreateParameter();
        id.ParameterName = "@Id";
        id.Value = node.Id;
        command.Parameters.Add(id);
    }
}

/// <summary>This node's Hangfire server is registered in Hangfire's storage and beating: without it no job runs here.</summary>
public sealed class HangfireServerCheck(JobStorage storage, NodeIdentity node, IOptions<HealthOptions> options, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        // Hangfire names a server "<ServerName, lower-cased>:<guid>"; ours is this node's id.
        var prefix = node.Id + ":";
        var server = storage.GetMonitoringApi().Servers()
            .Where(s => s.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(s => s.Heartbeat).FirstOrDefault();
        if (server is null) return Task.FromResult(HealthCheckResult.Unhealthy($"no Hangfire server of node {node.Id} is registered: no job can run here"));
        var age = time.GetUtcNow().UtcDateTime - (server.Heartbeat ?? DateTime.MinValue);
        var max = TimeSpan.FromSeconds(options.Value.MaxHangfireHeartbeatAgeSeconds);
        return Task.FromResult(age <= max
            ? HealthCheckResult.Healthy($"server {server.Name} beat {age.TotalSeconds:0} s ago")
            : HealthCheckResult.Unhealthy($"server {server.Name} last beat {age.TotalSeconds:0} s ago (more than {max.TotalSeconds:0} s)"));
    }
}

/// <summary>
/// This node's lease is fresh. Past its expiry other nodes take this node's running work as lost, so a node whose
/// heartbeat no longer reaches the database must not take more.
/// </summary>
public sealed class LeaseCheck(WorkerQueries workers, NodeIdentity node, IOptions<TaskdeckOptions> options, TimeProvider time) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        var heartbeat = await workers.HeartbeatOfAsync(node.Id, ct);
        if (heartbeat is null) return HealthCheckResult.Unhealthy($"node {node.Id} has no lease row");
        var age = time.GetUtcNow() - heartbeat.Value;
        var expiry = TimeSpan.FromSeconds(options.Value.Leases.ExpirySeconds);
        return age < expiry
            ? HealthCheckResult.Healthy($"lease renewed {age.TotalSeconds:0.#} s ago")
            : HealthCheckResult.Unhealthy($"lease last renewed {age.TotalSeconds:0} s ago, past its {expiry.TotalSeconds:0} s expiry: other nodes treat this one as dead");
    }
}

/// <summary>The group-commit writer keeps up: the oldest write waiting for it is not older than allowed.</summary>
public sealed class WriteQueueCheck(WriteQueue writes, IOptions<HealthOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        var lag = writes.Lag;
        var max = TimeSpan.FromSeconds(options.Value.MaxWriteQueueLagSeconds);
        return Task.FromResult(lag <= max
            ? HealthCheckResult.Healthy($"oldest waiting write {lag.TotalMilliseconds:0} ms")
            : HealthCheckResult.Unhealthy($"the oldest write has waited {lag.TotalSeconds:0.#} s (more than {max.TotalSeconds:0} s)"));
    }
}

/// <summary>Multi-node storage: this node still sees the other nodes' changes (its live pages and cancel requests depend on it).</summary>
public sealed class ChangeFollowerCheck(ChangeFollower follower, IOptions<HealthOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        var max = TimeSpan.FromSeconds(options.Value.MaxChangeFollowerLagSeconds);
        if (follower.CaughtUpAt is null) return Task.FromResult(HealthCheckResult.Unhealthy("has not read the change history yet"));
        var lag = follower.Lag;
        return Task.FromResult(lag <= max
            ? HealthCheckResult.Healthy($"caught up {lag.TotalSeconds:0.#} s ago")
            : HealthCheckResult.Unhealthy($"last caught up with other nodes' changes {lag.TotalSeconds:0} s ago (more than {max.TotalSeconds:0} s)"));
    }
}
