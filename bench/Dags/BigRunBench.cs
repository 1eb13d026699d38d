using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Taskdeck.Bench.Dags;

/// <summary>
/// <c>dags big [tasks]</c>: the built Console as its own process on a fresh embedded default (SQLite file, in-memory
/// Hangfire). Submits one DAG of <c>tasks</c> tasks (a <c>/bin/sleep</c> root and its parameter-expanded children, all
/// waiting behind it), kills it over HTTP from a client that drops the connection as soon as the status line arrives,
/// and reports the answer time, the time until every task reads Cancelled and the server's peak RSS meanwhile; then
/// GETs the run (streamed) and reports the server's peak RSS while it writes it. Peaks are the kernel's VmHWM, reset
/// (<c>/proc/PID/clear_refs</c> 5) before each step.
/// </summary>
public static class BigRunBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var tasks = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 200_000;
        // --same-node: kill and GET on the process that took the submit (its retained heap counts in the peaks).
        var restart = !args.Contains("--same-node");
        // --fresh-get: the GET too on a node restarted just before it (its peak then holds nothing of the kill's).
        var freshGet = args.Contains("--fresh-get");
        // --env KEY=VALUE (repeatable): extra environment for the server, e.g. DOTNET_gcServer=0.
        var extra = args.Select((a, i) => (a, i)).Where(x => x.a == "--env" && x.i + 1 < args.Length).Select(x => args[x.i + 1].Split('=', 2)).ToList();
        // --keep DIR: the node's database lives in DIR and stays there; a DIR that already holds one (from an earlier
        // --keep run) skips the submit and the kill: only the GET is measured again, on a fresh node.
        var kept = args.Select((a, i) => (a, i)).Where(x => x.a == "--keep" && x.i + 1 < args.Length).Select(x => Path.GetFullPath(args[x.i + 1])).FirstOrDefault();
        var folder = kept ?? Path.Combine(Path.GetTempPath(), "taskdeck-bigrun-" + Guid.NewGuid().ToString("N")[..8]);
        var getOnly = kept is not null && File.Exists(Path.Combine(kept, "taskdeck.db"));
        Directory.CreateDirectory(folder);
        System.Console.WriteLine($"Taskdeck big-run bench · {tasks:N0} tasks · {Environment.ProcessorCount} cores · .NET {Environment.Version} · load average at start {Load()}");
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet", $"\"{ConsoleDll()}\"")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(ConsoleDll())!,
        };
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production", ["Urls"] = $"http://127.0.0.1:{port}",
            ["ConnectionStrings__Taskdeck"] = $"Data Source={Path.Combine(folder, "taskdeck.db")}",
            ["Taskdeck__Demo__Enabled"] = "false", ["Logging__LogLevel__Default"] = "Warning", ["Logging__LogLevel__Taskdeck.Core.Bulk"] = "Information",
            ["Taskdeck__Auth__Anonymous"] = "Admin",
            ["Taskdeck__Commands__Enabled"] = "true", ["Taskdeck__Commands__Allow__0"] = "/bin/sleep", ["Taskdeck__Commands__Allow__1"] = "/bin/true",
            ["Taskdeck__Dags__MaxTasks"] = Math.Max(100_000, tasks).ToString(),
        }) start.Environment[key] = value;
        foreach (var pair in extra) start.Environment[pair[0]] = pair[1];
        if (extra.Count > 0) System.Console.WriteLine($"server environment: {string.Join(' ', extra.Select(p => $"{p[0]}={p[1]}"))}");
        var log = new StringBuilder();
        Process Launch()
        {
            var p = Process.Start(start)!;
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            return p;
        }
        var server = Launch();
        var keep = kept is not null;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(10) };
        try
        {
            await WaitReadyAsync(http, server, log);
            if (getOnly)
            {
                System.Console.WriteLine($"the run kept in {folder}: only the GET, on a fresh node (RSS {Rss(server.Id)} MB)");
                await GetAsync(http, server, 1);
                return 0;
            }
            var values = string.Join(",", Enumerable.Range(1, tasks - 1).Select(i => $"\"{i}\""));
            var spec = """{"tag":"big","parameters":{"N":[VALUES]},"tasks":{"root":{"job":{"command":["/bin/sleep","600"]},"children":["leaf"]},"leaf":{"job":{"command":["/bin/true","{{N}}"]}}}}""".Replace("VALUES", values);
            var sw = Stopwatch.StartNew();
            using var submitted = await http.PostAsync("/v1/dagrun", new StringContent(spec, Encoding.UTF8, "application/json"));
            var body = await submitted.Content.ReadAsStringAsync();
            if (!submitted.IsSuccessStatusCode) throw new InvalidOperationException($"submit: {(int)submitted.StatusCode} {body}");
            var runId = JsonDocument.Parse(body).RootElement.GetProperty("runID").GetInt64();
            System.Console.WriteLine($"submit of {tasks:N0} tasks ({spec.Length / 1024.0 / 1024:0.0} MB spec): {sw.Elapsed.TotalSeconds:0.0} s; server peak RSS during submit {Hwm(server.Id)} MB, {Rss(server.Id)} MB after");
            if (restart)
            {
                // The kill and the GET are measured on a node that did not hold the submit (whose heap the GC keeps for a while):
                // a graceful stop (SIGTERM: the running root goes back to the queue) and a new process on the same file.
                Taskdeck.Core.Executors.Signals.Send(server.Id, Taskdeck.Core.Executors.Signals.Terminate);
                await server.WaitForExitAsync();
                server.Dispose();
                server = Launch();
                await WaitReadyAsync(http, server, log);
                System.Console.WriteLine($"restarted the node on the same database: RSS {Rss(server.Id)} MB");
            }
            var before = await WaitForAsync(http, runId, "RUNNING", 1, TimeSpan.FromMinutes(5));
            System.Console.WriteLine($"before the kill: {before}");

            ResetHwm(server.Id);
            var rssBefore = Rss(server.Id);
            sw.Restart();
            var statusLine = await KillAndDropAsync(port, runId);
            var answer = sw.Elapsed;
            System.Console.WriteLine($"kill: answer '{statusLine}' after {answer.TotalMilliseconds:0} ms; the client closed the connection on the status line, body unread");
            var cancelled = await WaitForAsync(http, runId, "KILLED", tasks, TimeSpan.FromMinutes(10));
            System.Console.WriteLine($"kill: every one of {tasks:N0} tasks Cancelled {sw.Elapsed.TotalSeconds:0.0} s after the request ({cancelled}); server RSS {rssBefore} MB before, peak {Hwm(server.Id)} MB during");

            if (freshGet)
            {
                Taskdeck.Core.Executors.Signals.Send(server.Id, Taskdeck.Core.Executors.Signals.Terminate);
                await server.WaitForExitAsync();
                server.Dispose();
                server = Launch();
                await WaitReadyAsync(http, server, log);
                System.Console.WriteLine($"restarted the node before the GET: RSS {Rss(server.Id)} MB");
            }
            await GetAsync(http, server, runId);
            return 0;
        }
        catch
        {
            lock (log) System.Console.Error.WriteLine(log.ToString()[^Math.Min(log.Length, 4000)..]);
            keep = true;
            System.Console.Error.WriteLine($"the node's database is kept for a look: {folder}");
            throw;
        }
        finally
        {
            if (!server.HasExited) { server.Kill(entireProcessTree: true); await server.WaitForExitAsync(); }
            server.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (!keep) try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The streamed GET of the run, read to its end as fast as it comes; the server's peak RSS meanwhile.</summary>
    private static async Task GetAsync(HttpClient http, Process server, long runId)
    {
        ResetHwm(server.Id);
        var rssBefore = Rss(server.Id);
        var sw = Stopwatch.StartNew();
        using var response = await http.GetAsync($"/v1/dagrun/{runId}", HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[81920];
        long bytes = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0) bytes += read;
        System.Console.WriteLine($"GET /v1/dagrun/{runId}: {(int)response.StatusCode}, {bytes / 1024.0 / 1024:0.0} MB of JSON streamed in {sw.Elapsed.TotalSeconds:0.0} s; server RSS {rssBefore} MB before, peak {Hwm(server.Id)} MB during");
        System.Console.WriteLine($"load average at end {Load()}");
    }

    /// <summary>A raw HTTP/1.1 DELETE; returns the status line and closes the socket at once.</summary>
    private static async Task<string> KillAndDropAsync(int port, long runId)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"DELETE /v1/dagrun/{runId} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"));
        var line = new StringBuilder();
        var one = new byte[1];
        while (await stream.ReadAsync(one) == 1 && one[0] != '\n') line.Append((char)one[0]);
        client.Client.Close(0);
        return line.ToString().TrimEnd('\r');
    }

    private static async Task<string> WaitForAsync(HttpClient http, long runId, string state, int count, TimeSpan max)
    {
        var sw = Stopwatch.StartNew();
        var last = "";
        while (sw.Elapsed < max)
        {
            var runs = await http.GetFromJsonAsync<JsonElement>($"/v1/dagruns?all=1&after={runId - 1}&limit=1");
            var run = runs[0];
            last = run.GetProperty("taskCounts").ToString();
            if (run.GetProperty("taskCounts").TryGetProperty(state, out var c) && c.GetInt32() >= count) return last;
            await Task.Delay(200);
        }
        throw new TimeoutException($"run {runId}: not {count} {state} after {max}: {last}");
    }

    private static async Task WaitReadyAsync(HttpClient http, Process server, StringBuilder log)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromMinutes(3))
        {
            if (server.HasExited) throw new InvalidOperationException($"the console exited: {log}");
            try { if ((await http.GetAsync("/api/readyz")).IsSuccessStatusCode) return; } catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException("the console did not become ready");
    }

    private static long Status(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) / 1024;
        return -1;
    }

    private static long Hwm(int pid) => Status(pid, "VmHWM");
    private static long Rss(int pid) => Status(pid, "VmRSS");
    private static void ResetHwm(int pid) => File.WriteAllText($"/proc/{pid}/clear_refs", "5");
    private static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

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
