using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Taskdeck.Bench.Console;

/// <summary>
/// The built Console as a child process on a fresh embedded default (SQLite file in a temp folder, in-memory Hangfire),
/// and what the kernel says about it: CPU time from <c>/proc/PID/stat</c>, resident memory from <c>/proc/PID/status</c>.
/// </summary>
public sealed class ConsoleNode : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private readonly string _folder;
    private readonly Process _process;

    public int Port { get; }
    public int Pid => _process.Id;
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    /// <summary>The SQLite write-ahead log's size: it grows while readers keep a checkpoint from ever reaching its end.</summary>
    public double WalMb() => new FileInfo(Path.Combine(_folder, "taskdeck.db-wal")) is { Exists: true } wal ? wal.Length / 1048576.0 : 0;

    /// <summary>
    /// Copies the write-ahead log back into the database and empties it (<c>wal_checkpoint(TRUNCATE)</c>, on a connection of
    /// the bench's own), so that a phase does not start with the log an earlier phase left. The node restarts its log only
    /// past 256 MB (its <c>WalCheckpointer</c>): without this, where in that cycle a phase began decided whether it paid for a
    /// restart, and the phases compared different work. Waits for the node's readers (up to 10 s).
    /// </summary>
    /// <returns>Whether the log was emptied (false: a reader kept it, the phase starts with what is left).</returns>
    public async Task<bool> TruncateWalAsync()
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(_folder, "taskdeck.db"), Pooling = false, DefaultTimeout = 10,
        }.ToString());
        await connection.OpenAsync();
        await using (var patience = connection.CreateCommand())
        {
            // SQLite's own wait: the checkpoint waits on readers through the busy handler, not by failing.
            patience.CommandText = "PRAGMA busy_timeout = 10000;";
            await patience.ExecuteNonQueryAsync();
        }
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
        await using var reader = await command.ExecuteReaderAsync();
        // One row: busy (1 when it could not finish), frames in the log, frames copied back.
        return await reader.ReadAsync() && reader.GetInt64(0) == 0;
    }

    private ConsoleNode(string folder, int port, Process process)
    {
        _folder = folder;
        Port = port;
        _process = process;
    }

    /// <param name="settings">Configuration for the node, as environment variables (<c>Taskdeck__Auth__Anonymous</c>…).</param>
    /// <param name="cpus">The cores the node may run on (<c>taskset</c>'s list, e.g. <c>0</c>); null: wherever the bench may.</param>
    public static async Task<ConsoleNode> StartAsync(IReadOnlyDictionary<string, string> settings, string? cpus = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-live-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        var port = FreePort();
        var dll = ConsoleDll();
        // taskset execs the runtime, so the pid stays the node's.
        var start = new ProcessStartInfo(cpus is null ? "dotnet" : "taskset", cpus is null ? $"\"{dll}\"" : $"-c {cpus} dotnet \"{dll}\"")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Urls"] = $"http://127.0.0.1:{port}";
        start.Environment["ConnectionStrings__Taskdeck"] = $"Data Source={Path.Combine(folder, "taskdeck.db")}";
        start.Environment["Taskdeck__Demo__Enabled"] = "false";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings) start.Environment[key] = value;
        var node = new ConsoleNode(folder, port, Process.Start(start)!);
        node._process.OutputDataReceived += (_, e) => node.Append(e.Data);
        node._process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        await node.WaitReadyAsync();
        return node;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log) _log.AppendLine(line);
    }

    public string LogTail(int chars = 4000)
    {
        lock (_log) return _log.ToString()[^Math.Min(_log.Length, chars)..];
    }

    private async Task WaitReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(3))
        {
            if (_process.HasExited) throw new InvalidOperationException("the console exited at start:\n" + LogTail());
            try { if ((await http.GetAsync("/api/readyz")).IsSuccessStatusCode) return; } catch (HttpRequestException) { } catch (TaskCanceledException) { }
            await Task.Delay(200);
        }
        throw new TimeoutException("the console did not become ready in 3 minutes:\n" + LogTail());
    }

    /// <summary>User + system CPU time the node has used so far (its own threads, from <c>/proc/PID/stat</c>).</summary>
    public TimeSpan Cpu() => ProcStat.Cpu(Pid);

    /// <summary>Resident set size in MB.</summary>
    public double RssMb() => ProcStat.StatusKb(Pid, "VmRSS") / 1024.0;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) { _process.Kill(entireProcessTree: true); await _process.WaitForExitAsync(); }
        _process.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string ConsoleDll()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var configuration = here.Parent!.Name;
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Console.sln"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException("Console.sln not found above " + here.FullName);
        var dll = Path.Combine(root.FullName, "src", "Console", "bin", configuration, "net10.0", "Taskdeck.Console.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build src/Console first", dll);
    }
}

/// <summary>Reads <c>/proc</c>: a process's CPU time, its memory lines, its descendants.</summary>
public static class ProcStat
{
    // USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)).
    private const double TicksPerSecond = 100;

    public static TimeSpan Cpu(int pid) => Fields(pid) is { } fields ? CpuOf(fields) : TimeSpan.Zero;

    /// <summary>User + system time from a stat file's fields (utime and stime, fields 14 and 15).</summary>
    private static TimeSpan CpuOf(string[] fields) => TimeSpan.FromSeconds((long.Parse(fields[11]) + long.Parse(fields[12])) / TicksPerSecond);

    /// <summary>CPU time of every live descendant of <paramref name="root"/> but the subtrees of <paramref name="except"/>.</summary>
    public static TimeSpan DescendantsCpu(int root, params int[] except)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out var pid) && Fields(pid) is { } f)
                parents[pid] = int.Parse(f[1]);
        var total = TimeSpan.Zero;
        foreach (var pid in parents.Keys)
        {
            var p = pid;
            var mine = false;
            while (parents.TryGetValue(p, out var parent) && p > 1)
            {
                if (except.Contains(p)) break;
                if (parent == root) { mine = true; break; }
                p = parent;
            }
            if (mine && !except.Contains(pid)) total += Cpu(pid);
        }
        return total;
    }

    /// <summary>CPU time of each of a process's threads whose name (as <c>/proc/PID/task/TID/comm</c> keeps it) starts with <paramref name="name"/>, by thread id.</summary>
    public static Dictionary<int, TimeSpan> ThreadCpu(int pid, string name)
    {
        var threads = new Dictionary<int, TimeSpan>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
                if (Stat(Path.Combine(task, "stat")) is { } stat && stat.Name.StartsWith(name, StringComparison.Ordinal))
                    threads[int.Parse(Path.GetFileName(task))] = CpuOf(stat.Fields);
        }
        catch (DirectoryNotFoundException) { }
        return threads;
    }

    /// <summary>The cores a process may run on, as <c>/proc/PID/status</c> lists them ("0-1").</summary>
    public static string AllowedCpus(int pid) =>
        File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "?";

    public static long StatusKb(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]);
        return -1;
    }

    /// <summary>
    /// The resident part of the runtime's double-mapped memory (<c>/memfd:doublemapper</c>, "shared" in the status lines),
    /// split into what is mapped executable — the JIT's code, stubs — and what is mapped writable: with W^X on (the default)
    /// the runtime reserves its loader heaps there too (type data, precode and stub data, PGO counts; our reading of the
    /// runtime's allocator, not traced). Measured (issue 15): a busy node after 50 pages held ≈ 99 MB there while the code
    /// the JIT wrote (<c>DOTNET_JitStdOutFile</c> with <c>DOTNET_JitDisasmSummary=1</c>) came to ≈ 24 MB.
    /// </summary>
    public static (long ExecutableKb, long WritableKb) DoubleMappedKb(int pid)
    {
        long executable = 0, writable = 0;
        var current = (string?)null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
            {
                if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-'))
                    current = line.Contains("/memfd:doublemapper", StringComparison.Ordinal) ? line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] : null;
                else if (current is not null && line.StartsWith("Rss:", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line[4..].Trim().Split(' ')[0]);
                    if (current.Contains('x')) executable += kb;
                    else writable += kb;
                }
            }
        }
        catch (IOException) { } // the process is gone
        return (executable, writable);
    }

    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    /// <summary>The fields after the command name (field 3, "state", is index 0), or null once the process is gone.</summary>
    private static string[]? Fields(int pid) => Stat($"/proc/{pid}/stat")?.Fields;

    /// <summary>A process's or thread's stat file: its name (in parentheses) and the fields after it; null once it is gone.</summary>
    private static (string Name, string[] Fields)? Stat(string path)
    {
        try
        {
            var stat = File.ReadAllText(path);
            var close = stat.LastIndexOf(')');
            return (stat[(stat.IndexOf('(') + 1)..close], stat[(close + 2)..].Split(' '));
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}

/// <summary>
/// The CPU a process's threads of one name used since the meter started, sampled often: the runtime ends its tiering
/// thread after a few idle seconds and starts a new one (a new id) when work comes, and an ended thread's time leaves
/// <c>/proc</c> with it — so a difference of two readings can miss all of it. Each sample adds what every such thread used
/// since the last sample (a thread first seen counts whole: it was started since); at most one interval of a thread that
/// ends is missed.
/// </summary>
public sealed class ThreadCpuMeter(int pid, string name)
{
    private Dictionary<int, TimeSpan> _last = ProcStat.ThreadCpu(pid, name);

    public TimeSpan Used { get; private set; }

    public void Sample()
    {
        var now = ProcStat.ThreadCpu(pid, name);
        foreach (var (thread, cpu) in now) Used += cpu - _last.GetValueOrDefault(thread);
        _last = now;
    }
}
