using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Taskdeck.E2E;

/// <summary>
/// The real console as a child process on a fresh SQLite file, as an operator starts it: no anonymous access, nobody
/// signed up yet. Its log is kept, so a test can read the one-time set-up link the start prints.
/// </summary>
public sealed class ConsoleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _folder;

    private ConsoleProcess(Process process, int port, string folder)
    {
        _process = process;
        _folder = folder;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri BaseAddress { get; }

    public string Output { get { lock (_output) return _output.ToString(); } }

    public static async Task<ConsoleProcess> StartAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        // A free port is free only when asked: the unit suite's nodes, started side by side, may bind it first.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnFreePortAsync(settings);
            }
            catch (PortTakenException) when (attempt < 3) { }
        }
    }

    private sealed class PortTakenException(string message) : InvalidOperationException(message);

    private static async Task<ConsoleProcess> StartOnFreePortAsync(IReadOnlyDictionary<string, string>? settings)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-e2e-process-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        var port = FreePort();
        var dll = ConsoleDll();
        var start = new ProcessStartInfo("dotnet", $"\"{dll}\"")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        // As `dotnet run --project src/Console` starts it (launchSettings.json): from the build output, the console's static
        // assets (blazor.web.js, MudBlazor) are served only with static web assets on, which Production leaves off there —
        // the page would render but its circuit would never connect.
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["Urls"] = $"http://127.0.0.1:{port}";
        start.Environment["ConnectionStrings__Taskdeck"] = $"Data Source={Path.Combine(folder, "taskdeck.db")}";
        start.Environment["Taskdeck__Demo__Enabled"] = "false";
        start.Environment["Taskdeck__Auth__Anonymous"] = "None";
        // "Now listening on: …", the proof that this process holds the port (see below).
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) start.Environment[key.Replace(":", "__")] = value;
        var process = Process.Start(start)!;
        var node = new ConsoleProcess(process, port, folder);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (node._output) node._output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (node._output) node._output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = node.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync(); // the rest of its output, the bind's refusal among it
                var why = $"The console exited with {process.ExitCode}:\n{node.Output}";
                await node.DisposeAsync();
                throw node.Output.Contains($"Failed to bind to address http://127.0.0.1:{port}: address already in use")
                    ? new PortTakenException(why) : new InvalidOperationException(why);
            }
            try
            {
                // Another process that took the port first answers too: only this process's own log line says it holds it.
                if ((await http.GetAsync("/api/livez")).IsSuccessStatusCode && node.Output.Contains($"Now listening on: http://127.0.0.1:{port}")) return node;
            }
            catch (HttpRequestException) { }
            await Task.Delay(200);
        }
        await node.DisposeAsync();
        throw new TimeoutException($"The console did not answer in time:\n{node.Output}");
    }

    /// <summary>Waits for the log line with the first-run link (<c>…/login?setup=…</c>) and returns the link.</summary>
    public async Task<Uri> SetupLinkAsync()
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (DateTime.UtcNow < deadline)
        {
            var match = Regex.Match(Output, @"https?://\S+/login\?setup=[A-Za-z0-9_\-]+");
            if (match.Success) return new Uri(match.Value);
            await Task.Delay(100);
        }
        throw new TimeoutException($"No set-up link in the log:\n{Output}");
    }

    private static string ConsoleDll()
    {
        // tests/E2E/bin/<Configuration>/net10.0 → src/Console/bin/<Configuration>/net10.0
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var configuration = here.Parent!.Name;
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Console.sln"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException("Console.sln not found above " + here.FullName);
        var dll = Path.Combine(root.FullName, "src", "Console", "bin", configuration, "net10.0", "Taskdeck.Console.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build src/Console first", dll);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
