using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Taskdeck.Bench.Console;

/// <summary>
/// Live console pages held open in a headless Chromium that nobody watches: the pages are opened over the DevTools protocol,
/// each in a window of its own (so each reports itself visible and stays live), and then the connection is left idle with
/// no domain enabled, so the browser sends nothing back. Playwright, by contrast, enables the network domain of every page
/// it drives and receives each WebSocket frame of each circuit (every render batch, base64'd into JSON, parsed by its
/// node.js driver and by the bench): with 50 live pages that driver, at normal priority, took the cores the node needed.
/// Chromium itself runs at the idle scheduling policy in an idle CPU cgroup (<see cref="IdleChromium"/>).
/// </summary>
public sealed partial class DevToolsPages : IAsyncDisposable
{
    private readonly Process _chromium;
    private readonly ClientWebSocket _socket;
    private readonly string _profile;
    private readonly string? _idleGroup;
    private readonly List<string> _targets = [];
    private int _nextId;

    private DevToolsPages(Process chromium, ClientWebSocket socket, string profile, string? idleGroup)
    {
        _idleGroup = idleGroup;
        _chromium = chromium;
        _socket = socket;
        _profile = profile;
    }

    public int Count => _targets.Count;

    public static async Task<DevToolsPages> LaunchAsync(string chromiumPath)
    {
        var profile = Path.Combine(Path.GetTempPath(), "taskdeck-live-chromium-" + Guid.NewGuid().ToString("N")[..8]);
        var idleGroup = IdleCpuGroup();
        System.Console.WriteLine(idleGroup is null
            ? "Chromium: SCHED_IDLE and nice 19 only (no CPU cgroup could be made here: the browsers may take cores the node needs)"
            : $"Chromium: SCHED_IDLE, nice 19, in the idle CPU cgroup {idleGroup}");
        var start = new ProcessStartInfo(IdleChromium(chromiumPath, idleGroup))
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var arg in (string[])["--headless", "--no-sandbox", "--no-zygote", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions", "--mute-audio",
                     "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
                     "--remote-debugging-port=0", "--remote-allow-origins=*", $"--user-data-dir={profile}", "about:blank"])
            start.ArgumentList.Add(arg);
        var chromium = Process.Start(start)!;
        // Drained so Chromium never blocks on a full pipe.
        _ = chromium.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        // Chromium says where its DevTools listen on its standard error ("DevTools listening on ws://…").
        var endpoint = await Task.Run(async () =>
        {
            while (await chromium.StandardError.ReadLineAsync() is { } line)
                if (DevToolsListening().Match(line) is { Success: true } m) return m.Groups[1].Value;
            throw new InvalidOperationException("Chromium ended without a DevTools endpoint");
        }).WaitAsync(TimeSpan.FromSeconds(60));
        _ = chromium.StandardError.BaseStream.CopyToAsync(Stream.Null);
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(new Uri(endpoint), CancellationToken.None);
        return new DevToolsPages(chromium, socket, profile, idleGroup);
    }

    /// <summary>Opens a page in a window of its own and waits until its circuit is live (<c>[data-interactive=true]</c>).</summary>
    /// <returns>Whether the page reports itself visible (a hidden page pauses its live updates: it would measure nothing).</returns>
    public async Task<bool> OpenAsync(Uri url, TimeSpan timeout)
    {
        var created = await SendAsync("Target.createTarget", new JsonObject { ["url"] = url.ToString(), ["newWindow"] = true, ["width"] = 1280, ["height"] = 800 });
        var target = created["targetId"]!.GetValue<string>();
        lock (_targets) _targets.Add(target);
        return await AttachedAsync(target, async session =>
        {
            await WaitUntilAsync(session, "document.querySelector('[data-interactive=true]') !== null", timeout, $"{url} did not become interactive", TimeSpan.FromMilliseconds(250));
            return await EvaluateAsync<string>(session, "document.visibilityState") == "visible";
        });
    }

    /// <summary>
    /// Sends every page to the background, or brings it back, as the browser would when its tab is switched away
    /// (<c>visibilitychange</c>; the E2E tests do the same), and waits until each page says the server has taken it
    /// (<c>data-live-hidden</c>). A hidden page keeps its circuit but gets no live updates: what the pages' updates cost
    /// is the difference between a phase with them shown and one with them hidden, everything else held equal.
    /// </summary>
    public async Task SetHiddenAsync(bool hidden, TimeSpan timeout)
    {
        var state = hidden ? "hidden" : "visible";
        var flag = hidden ? "true" : "false";
        foreach (var target in _targets.ToList())
            await AttachedAsync(target, async session =>
            {
                await EvaluateAsync<bool>(session, $$"""
                    (() => {
                      Object.defineProperty(document, 'visibilityState', { value: '{{state}}', configurable: true });
                      Object.defineProperty(document, 'hidden', { value: {{flag}}, configurable: true });
                      document.dispatchEvent(new Event('visibilitychange'));
                      return true;
                    })()
                    """);
                await WaitUntilAsync(session, $"document.documentElement.dataset.liveHidden === '{flag}'", timeout, $"a page did not report itself {state}", TimeSpan.FromMilliseconds(50));
                return true;
            });
    }

    /// <summary>Runs <paramref name="use"/> on a DevTools session attached to the page, detached afterwards.</summary>
    private async Task<T> AttachedAsync<T>(string target, Func<string, Task<T>> use)
    {
        var attached = await SendAsync("Target.attachToTarget", new JsonObject { ["targetId"] = target, ["flatten"] = true });
        var session = attached["sessionId"]!.GetValue<string>();
        try { return await use(session); }
        finally { await SendAsync("Target.detachFromTarget", new JsonObject { ["sessionId"] = session }); }
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page every <paramref name="poll"/> until it is true.</summary>
    private async Task WaitUntilAsync(string session, string expression, TimeSpan timeout, string failure, TimeSpan poll)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await EvaluateAsync<bool>(session, expression))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{failure} in {timeout.TotalSeconds:N0} s");
            await Task.Delay(poll);
        }
    }

    /// <summary>Closes every page as a user closing the tab would (its unload tells the server the circuit is gone).</summary>
    public async Task CloseAllAsync()
    {
        foreach (var target in _targets) await SendAsync("Target.closeTarget", new JsonObject { ["targetId"] = target });
        _targets.Clear();
    }

    /// <summary>Chromium's processes (the browser and its renderers): their CPU is reported apart from the node's.</summary>
    public int Pid => _chromium.Id;

    private async Task<T> EvaluateAsync<T>(string session, string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true }, session);
        return result["result"]!["value"]!.GetValue<T>();
    }

    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>
    /// One command and its answer. The connection carries one command at a time and no domain is ever enabled, so besides
    /// answers only attach/detach notices arrive: they are read past.
    /// </summary>
    private async Task<JsonNode> SendAsync(string method, JsonObject parameters, string? session = null)
    {
        await _gate.WaitAsync();
        try
        {
            var id = ++_nextId;
            var command = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
            if (session is not null) command["sessionId"] = session;
            await _socket.SendAsync(Encoding.UTF8.GetBytes(command.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
            while (true)
            {
                var message = await ReceiveAsync();
                if (message["id"]?.GetValue<int>() != id) continue;
                if (message["error"] is { } error) throw new InvalidOperationException($"DevTools {method}: {error.ToJsonString()}");
                return message["result"]!;
            }
        }
        finally { _gate.Release(); }
    }

    private async Task<JsonNode> ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult part;
        do
        {
            part = await _socket.ReceiveAsync(buffer, CancellationToken.None);
            if (part.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException("Chromium closed its DevTools connection");
            message.Write(buffer, 0, part.Count);
        } while (!part.EndOfMessage);
        return JsonNode.Parse(message.ToArray())!;
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (_socket.State == WebSocketState.Open) await SendAsync("Browser.close", []).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception) { /* it is going anyway */ }
        if (!_chromium.WaitForExit(TimeSpan.FromSeconds(10))) _chromium.Kill(entireProcessTree: true);
        _socket.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { }
        // A cgroup goes once its last process has: Chromium's helpers may take a moment after the browser.
        for (var i = 0; _idleGroup is not null && Directory.Exists(_idleGroup) && i < 50; i++)
        {
            try { Directory.Delete(_idleGroup); }
            catch (IOException) { await Task.Delay(100); }
        }
    }

    /// <summary>
    /// A wrapper that starts Chromium with the idle scheduling policy (SCHED_IDLE, and nice 19) inside a CPU cgroup marked
    /// idle: on a 2-core machine the browsers would otherwise take the cores the node needs, where in real use they run on
    /// the operators' own machines. Each layer was needed (measured with 50 pages, <c>/proc/PID/task/*/schedstat</c>):
    /// nice alone: run as root, Chromium raises its display-critical threads to nice -8 (the node kept 0.24 of a core).
    /// SCHED_IDLE alone: Chromium's zygote calls setsid, so its renderers landed in autogroups of their own, each as heavy
    /// as the node's whole group, and the browsers still took a full core while the node's threads waited to run
    /// (<c>--no-zygote</c> keeps them in one tree). The idle cgroup (<c>cpu.idle</c>) makes the browsers' whole group
    /// yield to the node, though not absolutely: with 50 pages they still got about half a core. Where no cgroup can be made (not root, no CPU controller) the bench says so and goes on.
    /// </summary>
    private static string IdleChromium(string path, string? idleGroup)
    {
        if (!OperatingSystem.IsLinux()) return path;
        var wrapper = Path.Combine(Path.GetTempPath(), $"taskdeck-chromium-idle-{Environment.ProcessId}.sh");
        var idle = File.Exists("/usr/bin/chrt") ? "/usr/bin/chrt --idle 0 " : "";
        var join = idleGroup is null ? "" : $"echo $$ > \"{idleGroup}/cgroup.procs\"\n";
        File.WriteAllText(wrapper, $"#!/bin/sh\n{join}exec {idle}nice -n 19 \"{path}\" \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return wrapper;
    }

    /// <summary>
    /// A CPU cgroup whose processes run only when nothing else wants the cores (<c>cpu.idle</c>, cgroup v1's CPU controller
    /// or cgroup v2 with the controller enabled); null when none can be made here.
    /// </summary>
    private static string? IdleCpuGroup()
    {
        if (!OperatingSystem.IsLinux()) return null;
        foreach (var root in (string[])["/sys/fs/cgroup/cpu", "/sys/fs/cgroup"])
        {
            if (!File.Exists(Path.Combine(root, "cgroup.procs"))) continue;
            var group = Path.Combine(root, $"taskdeck-bench-browsers-{Environment.ProcessId}");
            try
            {
                Directory.CreateDirectory(group);
                if (!File.Exists(Path.Combine(group, "cpu.idle"))) { Directory.Delete(group); continue; }
                File.WriteAllText(Path.Combine(group, "cpu.idle"), "1");
                return group;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                try { Directory.Delete(group); } catch (Exception) { /* it was never made */ }
            }
        }
        return null;
    }

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex DevToolsListening();
}
