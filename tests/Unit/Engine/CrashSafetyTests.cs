using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Data.Sqlite;
using Taskdeck.Core.Executions;
using Xunit.Abstractions;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// A real crash: the built Console runs as a child process on a SQLite file, is killed with SIGKILL mid-way (no
/// drain, no final heartbeat), and a new process on the same file must finish every record exactly once.
/// </summary>
public sealed class CrashSafetyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Count = 1000;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-crash-" + Guid.NewGuid().ToString("N")[..8]);
    private string Database => Path.Combine(_folder, "taskdeck.db");
    private readonly List<ConsoleProcess> _processes = [];

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task KilledHost_MidWay_NewHostOnTheSameFile_FinishesAllOnce()
    {
        var first = await StartAsync();
        using var client = new HttpClient { BaseAddress = first.BaseAddress };
        // Due together a few seconds from now, so every record is stored before the workers start on them.
        var due = DateTimeOffset.UtcNow.AddSeconds(4);
        await Parallel.ForEachAsync(Enumerable.Range(0, Count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
        {
            using var response = await client.PostAsJsonAsync("/api/tasks", new { task = "demo.noop", maxRetries = 1, runAt = due }, ct);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        });
        Assert.Equal(Count, await ScalarAsync("SELECT COUNT(*) FROM \"Executions\""));

        await WaitAsync(async () => await CountAsync(ExecutionState.Succeeded) >= 100, TimeSpan.FromSeconds(60), "100 succeeded on the first host");
        first.Kill();
        var succeededAtKill = await CountAsync(ExecutionState.Succeeded);
        var runningAtKill = await CountAsync(ExecutionState.Running);
        output.WriteLine($"killed with {succeededAtKill} succeeded, {runningAtKill} running");
        Assert.True(succeededAtKill < Count, "the first host finished everything before it was killed: nothing left to recover");

        await StartAsync();
        await WaitAsync(async () => await CountAsync(ExecutionState.Succeeded) == Count, TimeSpan.FromSeconds(90), "all succeeded on the second host");

        Assert.Equal(Count, await ScalarAsync("SELECT COUNT(*) FROM \"Executions\""));
        Assert.Equal(0, await ScalarAsync(
            "SELECT COUNT(*) FROM \"Executions\" e WHERE (SELECT COUNT(*) FROM \"Attempts\" a WHERE a.\"ExecutionId\" = e.\"Id\" AND a.\"Outcome\" = @s) <> 1",
            ("s", (int)ExecutionState.Succeeded)));
        Assert.Equal(0, await ScalarAsync(
            "SELECT COUNT(*) FROM \"Executions\" e WHERE (SELECT COUNT(*) FROM \"StateChanges\" h WHERE h.\"ExecutionId\" = e.\"Id\" AND h.\"Transition\" = 'Succeed') <> 1"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM \"Attempts\" WHERE \"FinishedAt\" IS NULL"));
        var lost = await ScalarAsync("SELECT COUNT(*) FROM \"Attempts\" WHERE \"Outcome\" = @s", ("s", (int)ExecutionState.Lost));
        Assert.Equal(runningAtKill, lost);
        output.WriteLine($"{lost} attempts lost in the crash and retried");
    }

    private Task<long> CountAsync(ExecutionState state) => ScalarAsync("SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = @s", ("s", (int)state));

    private async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={Database};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue("@" + name, value);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private async Task<ConsoleProcess> StartAsync()
    {
        var process = ConsoleProcess.Start(Database, FreePort());
        _processes.Add(process);
        using var client = new HttpClient { BaseAddress = process.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        await WaitAsync(async () =>
        {
            if (process.HasExited) throw new Xunit.Sdk.XunitException($"the console exited: {process.Output}");
            try { return (await client.GetAsync("/api/readyz")).IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
            catch (TaskCanceledException) { return false; }
        }, TimeSpan.FromSeconds(60), "the console ready");
        return process;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan deadline, string what)
    {
        var until = DateTime.UtcNow + deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"{what}: not reached in {deadline.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public Task DisposeAsync()
    {
        foreach (var p in _processes) p.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    /// <summary>The built Console (same configuration as this test assembly) as a child process.</summary>
    private sealed class ConsoleProcess : IDisposable
    {
        private readonly Process _process;
        private readonly Queue<string> _lines = new();

        private ConsoleProcess(Process process, Uri baseAddress)
        {
            _process = process;
            BaseAddress = baseAddress;
        }

        public Uri BaseAddress { get; }
        public bool HasExited => _process.HasExited;
        public string Output { get { lock (_lines) return string.Join('\n', _lines); } }

        public static ConsoleProcess Start(string database, int port)
        {
            var dll = FindConsoleDll();
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = Path.GetDirectoryName(dll)!,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(dll);
            var url = $"http://127.0.0.1:{port}";
            start.Environment["ConnectionStrings__Taskdeck"] = $"Data Source={database}";
            start.Environment["Urls"] = url;
            start.Environment["ASPNETCORE_URLS"] = url;
            start.Environment["Taskdeck__Demo__Enabled"] = "false";
            start.Environment["Taskdeck__Leases__HeartbeatSeconds"] = "1";
            start.Environment["Taskdeck__Leases__ExpirySeconds"] = "2";
            start.Environment["Taskdeck__Leases__ReconcileSeconds"] = "1";
            // Few workers, so the run lasts long enough to be killed in the middle of it.
            start.Environment["Taskdeck__Node__WorkerCount"] = "2";
            start.Environment["Logging__LogLevel__Default"] = "Warning";
            var process = new Process { StartInfo = start };
            var console = new ConsoleProcess(process, new Uri(url));
            process.OutputDataReceived += (_, e) => console.Keep(e.Data);
            process.ErrorDataReceived += (_, e) => console.Keep(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return console;
        }

        private void Keep(string? line)
        {
            if (line is null) return;
            lock (_lines)
            {
                _lines.Enqueue(line);
                while (_lines.Count > 50) _lines.Dequeue();
            }
        }

        /// <summary>SIGKILL: no graceful stop, no final heartbeat, in-memory Hangfire jobs gone.</summary>
        public void Kill()
        {
            _process.Kill(entireProcessTree: false);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited) Kill();
            _process.Dispose();
        }

        private static string FindConsoleDll()
        {
            var configuration = typeof(CrashSafetyTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "Console.sln"))) continue;
                var dll = Path.Combine(dir.FullName, "src", "Console", "bin", configuration, "net10.0", "Taskdeck.Console.dll");
                return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the Console ({configuration}) first", dll);
            }
            throw new DirectoryNotFoundException($"No Console.sln above {AppContext.BaseDirectory}");
        }
    }
}
