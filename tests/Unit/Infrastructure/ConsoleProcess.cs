using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;

namespace Taskdeck.Unit.Infrastructure;

/// <summary>
/// The real Console app as a child process (the same build configuration as the tests), so a test can run several
/// nodes side by side and kill one with SIGKILL — a crash, not a graceful stop.
/// </summary>
public sealed class ConsoleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ConsoleProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }
    public HttpClient Http { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;
    public string Output { get { lock (_output) return _output.ToString(); } }

    public static string ConsoleDll()
    {
        // tests/Unit/bin/<Configuration>/net10.0 → src/Console/bin/<Configuration>/net10.0
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var configuration = here.Parent!.Name;
        var dll = Path.Combine(RepositoryRoot(), "src", "Console", "bin", configuration, "net10.0", "Taskdeck.Console.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build src/Console first", dll);
    }

    /// <summary>The folder of Console.sln, above the test's binaries.</summary>
    public static string RepositoryRoot()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Console.sln"))) root = root.Parent;
        return root?.FullName ?? throw new InvalidOperationException("Console.sln not found above " + here.FullName);
    }

    public static async Task<ConsoleProcess> StartAsync(IReadOnlyDictionary<string, string> settings, TimeSpan? startTimeout = null)
    {
        // A free port is free only when asked: another process (a parallel test's node) may bind it before this one does.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnFreePortAsync(settings, startTimeout);
            }
            catch (PortTakenException) when (attempt < 3) { }
        }
    }

    private sealed class PortTakenException(string message) : InvalidOperationException(message);

    private static async Task<ConsoleProcess> StartOnFreePortAsync(IReadOnlyDictionary<string, string> settings, TimeSpan? startTimeout)
    {
        var port = PostgresServer.FreePort();
        var start = new ProcessStartInfo("dotnet", $"\"{ConsoleDll()}\"")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(ConsoleDll())!,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Urls"] = $"http://127.0.0.1:{port}";
        start.Environment["Taskdeck__Demo__Enabled"] = "false";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        // "Now listening on: …", the proof that this process holds the port (see below).
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        // Acts without signing in unless a test says otherwise (settings below win).
        start.Environment["Taskdeck__Auth__Anonymous"] = "Admin";
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__")] = value;
        var process = Process.Start(start)!;
        var node = new ConsoleProcess(process, port);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (node._output) node._output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (node._output) node._output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + (startTimeout ?? TimeSpan.FromSeconds(180));
        // Which readiness check still failed, for the timeout's message (a start once took over 3 minutes under load).
        var lastReadiness = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                // Exited is not "all its output read": the last lines (the start's refusal) may still be in the pipe.
                // WaitForExitAsync also waits for the redirected streams to end.
                await process.WaitForExitAsync();
                var why = $"The console exited with {process.ExitCode}:\n{node.Output}";
                throw node.Output.Contains($"Failed to bind to address http://127.0.0.1:{port}: address already in use")
                    ? new PortTakenException(why) : new InvalidOperationException(why);
            }
            try
            {
                using var readiness = await node.Http.GetAsync("/api/readyz");
                // Another suite's node that took the port first answers too: only this process's own log line says the
                // answer came from it (a bind that failed would end this process instead).
                if (readiness.IsSuccessStatusCode && node.Output.Contains($"Now listening on: http://127.0.0.1:{port}")) return node;
                lastReadiness = $"{(int)readiness.StatusCode} {await readiness.Content.ReadAsStringAsync()}";
            }
            // Not listening yet, or listening but not answering within the client's timeout: a start at load 60 took
            // longer than the 30 s of one probe. Either way the start's own deadline decides, not one probe.
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            await Task.Delay(200);
        }
        await node.DisposeAsync();
        throw new TimeoutException($"The console did not become ready (last /api/readyz: {lastReadiness}):\n{node.Output}");
    }

    /// <summary>SIGKILL: no drain, no final heartbeat, no graceful interrupt of running work.</summary>
    public void Crash()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, as a service manager stops it: the host shuts down gracefully. Waits for the exit.</summary>
    public async Task StopGracefullyAsync(TimeSpan deadline)
    {
        if (_process.HasExited) return;
        Taskdeck.Core.Executors.Signals.Send(_process.Id, Taskdeck.Core.Executors.Signals.Terminate);
        using var timeout = new CancellationTokenSource(deadline);
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async Task<long> SubmitAsync(object body)
    {
        var response = await Http.PostAsJsonAsync("/api/tasks", body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"submit failed {(int)response.StatusCode}: {text}");
        return System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("id").GetInt64();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
