using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Taskdeck.Bench.Engine;

/// <summary>
/// The PostgreSQL server of <c>engine … --storage postgresql</c>: a throwaway cluster of Debian's PostgreSQL in a temp
/// folder (no systemd; run as the <c>postgres</c> user when root), or the server named by <c>TASKDECK_BENCH_PG</c> (a
/// connection string to a database from which a fresh one is created and dropped afterwards). Server settings are
/// PostgreSQL's defaults (fsync and synchronous_commit on), so every commit is durable as in production.
/// </summary>
public sealed class BenchPostgres : IAsyncDisposable
{
    private readonly string? _folder;
    private readonly string _bin = "";
    private readonly string _admin;
    private readonly string _database = "taskdeck_bench_" + Guid.NewGuid().ToString("N")[..8];

    private BenchPostgres(string admin, string? folder, string bin)
    {
        _admin = admin;
        _folder = folder;
        _bin = bin;
    }

    /// <summary>Where the server came from, for the report.</summary>
    public string Description { get; private init; } = "";

    /// <summary>The fresh database's connection string.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder(_admin) { Database = _database, MaxPoolSize = 100 }.ToString();

    /// <param name="statements">Loads pg_stat_statements (a throwaway cluster only), so a round can count the statements it sent.</param>
    public static async Task<BenchPostgres> StartAsync(bool statements = false)
    {
        BenchPostgres server;
        if (Environment.GetEnvironmentVariable("TASKDECK_BENCH_PG") is { Length: > 0 } given)
        {
            server = new BenchPostgres(given, null, "") { Description = "TASKDECK_BENCH_PG" };
        }
        else
        {
            var bin = Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
                : null;
            if (bin is null) throw new InvalidOperationException("No PostgreSQL under /usr/lib/postgresql/*/bin (apt-get install postgresql) and TASKDECK_BENCH_PG is not set.");
            var folder = Path.Combine(Path.GetTempPath(), "taskdeck-benchpg-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(folder);
            if (IsRoot) await RunAsync("chown", "postgres:postgres", folder);
            var port = FreePort();
            await RunAsPostgresAsync($"{bin}/initdb -D {folder}/data -U postgres -A trust -E UTF8 --no-sync");
            await RunAsPostgresAsync($"{bin}/pg_ctl -D {folder}/data -l {folder}/log -w -t 60 -o \"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=300{(statements ? " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on" : "")}\" start");
            server = new BenchPostgres($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=15", folder, bin)
            {
                Description = $"throwaway cluster, {Path.GetFileName(Path.GetDirectoryName(bin))}, defaults (fsync on, synchronous_commit on), port {port}",
            };
        }
        await ExecuteAsync(server._admin, $"CREATE DATABASE {server._database}");
        if (statements) await ExecuteAsync(server._admin, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        return server;
    }

    private readonly List<string> _more = [];

    /// <summary>Another fresh database on the same server (a bench that starts several hosts gives each its own), dropped at the end.</summary>
    public async Task<string> NewDatabaseAsync()
    {
        var name = "taskdeck_bench_" + Guid.NewGuid().ToString("N")[..8];
        await ExecuteAsync(_admin, $"CREATE DATABASE {name}");
        _more.Add(name);
        return new NpgsqlConnectionStringBuilder(_admin) { Database = name, MaxPoolSize = 100 }.ToString();
    }

    /// <summary>Forgets the statements counted so far (with <c>--statements</c>).</summary>
    public Task ResetStatementsAsync() => ExecuteAsync(_admin, "SELECT pg_stat_statements_reset()");

    /// <summary>
    /// What the bench database was sent since the last reset: every statement's calls (commits and BEGINs included) and
    /// the most frequent texts, each as calls per <paramref name="items"/>.
    /// </summary>
    public async Task<string> StatementsAsync(int items, int top = 14)
    {
        await using var connection = new NpgsqlConnection(_admin);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT s.calls, s.total_exec_time, s.plans, s.total_plan_time, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 150) FROM pg_stat_statements s " +
                              "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = @db ORDER BY s.calls DESC";
        command.Parameters.AddWithValue("db", _database);
        var rows = new List<(long Calls, double Ms, long Plans, double PlanMs, string Text)>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) rows.Add((reader.GetInt64(0), reader.GetDouble(1), reader.GetInt64(2), reader.GetDouble(3), reader.GetString(4)));
        var text = new System.Text.StringBuilder();
        // Planning is counted apart (track_planning): a statement planned at every call is parsed or re-planned each time.
        text.AppendLine($"  statements: {rows.Sum(r => r.Calls) / (double)items:N1} per item ({rows.Sum(r => r.Calls):N0} calls, {rows.Sum(r => r.Ms) * 1000 / items:N0} µs server time " +
                        $"per item, planning {rows.Sum(r => r.PlanMs) * 1000 / items:N0} µs per item in {rows.Sum(r => r.Plans):N0} plans)");
        foreach (var (calls, ms, plans, _, query) in rows.Take(top))
            text.AppendLine($"  {calls / (double)items,7:N2} per item {ms * 1000 / Math.Max(1, calls),8:N0} µs each {plans * 100.0 / Math.Max(1, calls),4:0}% planned   {query}");
        text.AppendLine("  by server time (execution + planning):");
        foreach (var (calls, ms, _, planMs, query) in rows.OrderByDescending(r => r.Ms + r.PlanMs).Take(top))
            text.AppendLine($"  {(ms + planMs) * 1000 / items,7:N0} µs per item ({planMs * 1000 / items:N0} planning) {calls / (double)items,6:N2} per item   {query}");
        return text.ToString();
    }

    /// <summary>
    /// CPU time of the server's processes (postmaster, live backends, and those that ended), or null for a server this
    /// bench did not start: PostgreSQL's share of the work happens outside the bench process.
    /// </summary>
    public TimeSpan? ServerCpu()
    {
        if (_folder is null) return null;
        try
        {
            var pid = int.Parse(File.ReadLines(Path.Combine(_folder, "data", "postmaster.pid")).First());
            var own = Stat(pid);
            long ticks = own[13] + own[14] + own[15] + own[16];
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var child) || child == pid) continue;
                try
                {
                    var s = Stat(child);
                    if (s[3] == pid) ticks += s[13] + s[14];
                }
                catch (IOException) { /* ended meanwhile: its time is in the postmaster's cutime now */ }
            }
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (IOException) { return null; }

        // Fields of /proc/<pid>/stat after the command name, indexed as in proc(5) minus one (ppid = [3], utime = [13]).
        static long[] Stat(int pid)
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            var fields = new long[rest.Length + 2];
            for (var i = 1; i < rest.Length; i++) long.TryParse(rest[i], out fields[i + 2]);
            return fields;
        }
    }

    /// <summary>
    /// The server's CPU time by process kind (client backends, autovacuum, WAL writer, checkpointer …, from each process
    /// title; "ended" is the time of processes that exited, counted in the postmaster's children time), with
    /// <c>--statements</c>: which part of PostgreSQL does the work.
    /// </summary>
    public Dictionary<string, TimeSpan> ServerCpuByKind()
    {
        var kinds = new Dictionary<string, TimeSpan>();
        if (_folder is null) return kinds;
        try
        {
            var pid = int.Parse(File.ReadLines(Path.Combine(_folder, "data", "postmaster.pid")).First());
            var own = Stat(pid);
            kinds["postmaster"] = TimeSpan.FromSeconds((own[13] + own[14]) / 100.0);
            kinds["ended"] = TimeSpan.FromSeconds((own[15] + own[16]) / 100.0);
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var child) || child == pid) continue;
                try
                {
                    var s = Stat(child);
                    if (s[3] != pid) continue;
                    var title = File.ReadAllText($"/proc/{child}/cmdline").Replace('\0', ' ').Trim();
                    var kind = title.StartsWith("postgres: ", StringComparison.Ordinal) ? title[10..] : title;
                    if (kind.Contains(" 127.0.0.1", StringComparison.Ordinal) || kind.Contains("[local]", StringComparison.Ordinal)) kind = "client backends";
                    else if (kind.Contains("autovacuum worker", StringComparison.Ordinal)) kind = "autovacuum workers";
                    kinds[kind] = kinds.GetValueOrDefault(kind) + TimeSpan.FromSeconds((s[13] + s[14]) / 100.0);
                }
                catch (IOException) { }
            }
        }
        catch (IOException) { }
        return kinds;
    }

    /// <summary>The CPU per item of each process kind between two <see cref="ServerCpuByKind"/> readings.</summary>
    public static string CpuByKind(Dictionary<string, TimeSpan> before, Dictionary<string, TimeSpan> after, int items) =>
        "  server CPU per item by process: " + string.Join(", ", after.Select(kv => (kv.Key, Us: (kv.Value - before.GetValueOrDefault(kv.Key)).TotalMicroseconds / items))
            .Where(x => x.Us >= 1).OrderByDescending(x => x.Us).Select(x => $"{x.Key} {x.Us:N0} µs")) + "\n";

    private static long[] Stat(int pid)
    {
        var text = File.ReadAllText($"/proc/{pid}/stat");
        var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        var fields = new long[rest.Length + 2];
        for (var i = 1; i < rest.Length; i++) long.TryParse(rest[i], out fields[i + 2]);
        return fields;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var database in _more.Append(_database))
            try { await ExecuteAsync(_admin, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)"); } catch (NpgsqlException) { }
        if (_folder is null) return;
        try { await RunAsPostgresAsync($"{_bin}/pg_ctl -D {_folder}/data -m immediate -w stop"); } catch (InvalidOperationException) { }
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Runs a statement: on the bench database (<see cref="ConnectionString"/>, <c>--sql</c>) or, here, on the admin one.</summary>
    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Hangfire jobs made on the bench database so far (their ids count up from 1).</summary>
    public async Task<long> HangfireJobsMadeAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(max(id), 0) FROM hangfire.job";
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static Task RunAsPostgresAsync(string command) =>
        IsRoot ? RunAsync("su", "postgres", "-s", "/bin/sh", "-c", command) : RunAsync("/bin/sh", "-c", command);

    private static async Task RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/" };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {await stdout} {await stderr}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
