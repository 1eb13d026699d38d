using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Taskdeck.Bench.Console;

/// <summary>
/// <c>console-live [pages] [executions]</c>: what open console pages cost the node that runs the work.
/// The built Console runs as a child process on a fresh embedded default (anonymous Operator, rate limits off, no demo
/// workload). After a warm-up it runs <c>executions</c> <c>demo.noop</c> with no page open, opens <c>pages</c> live pages
/// in headless Chromium, opened over DevTools and then left unwatched (<see cref="DevToolsPages"/>) (dashboards, executions grids with and without filters, execution details, a DAG run of 1,000
/// tasks), measures them idle, runs a warm-up and then the same executions again with them open, closes them, follows the node's memory
/// for a minute and runs the executions once more with no page (the warm comparison). Before closing them it alternates
/// phases with the pages shown and hidden (<c>--alternate N</c> rounds, median ratio), the comparison that holds everything
/// but the live updates equal. Every phase starts with an emptied SQLite write-ahead log (<c>--keep-wal</c>: not). Executions are submitted over HTTP
/// (<c>POST /api/tasks</c>, a fixed number in flight: the node's own highest rate); the clock stops when <c>/api/executions/stats</c> counts them all Succeeded. CPU is the node's own
/// (<c>/proc/PID/stat</c>), not the machine's: Chromium's is reported apart.
/// </summary>
public static class ConsoleLiveBench
{
    private const int DagTasks = 1_000;

    public static async Task<int> RunAsync(string[] args)
    {
        var positional = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || !args[i - 1].StartsWith("--", StringComparison.Ordinal))).ToList();
        var pageCount = positional.Count > 0 ? int.Parse(positional[0], CultureInfo.InvariantCulture) : 50;
        var executions = positional.Count > 1 ? int.Parse(positional[1], CultureInfo.InvariantCulture) : 10_000;
        var inFlight = Option(args, "--in-flight") is { } f ? int.Parse(f, CultureInfo.InvariantCulture) : 32;
        var warmup = Option(args, "--warmup") is { } w ? int.Parse(w, CultureInfo.InvariantCulture) : 3_000;
        // A warm-up is repeated (up to --warmup-rounds rounds) until the runtime's JIT is quiet (its tiering thread, and the
        // methods it compiles in a round: /api/metrics' dotnet_jit_compiled_methods_total): the pages bring a second body of
        // code (Blazor, MudBlazor, the live views) that the JIT recompiles optimized only once it runs hot, and 12,000
        // executions with the pages still left 17 % of a core to it (BENCHMARKS.md session 20).
        var warmupRounds = Option(args, "--warmup-rounds") is { } wr ? int.Parse(wr, CultureInfo.InvariantCulture) : 16;
        if (warmupRounds < 2) throw new ArgumentException("--warmup-rounds: at least 2 (a warm-up ends after two quiet rounds running)");
        // A phase that cannot finish (the console used to slow the work this much) ends here and counts what got done.
        var limit = TimeSpan.FromSeconds(Option(args, "--phase-limit") is { } l ? int.Parse(l, CultureInfo.InvariantCulture) : 240);
        // --pace N: the steady rate of the paced phases (the target is stated at 1,000 executions/s).
        var pace = Option(args, "--pace") is { } r ? double.Parse(r, CultureInfo.InvariantCulture) : 1_000;
        var afterClose = TimeSpan.FromSeconds(Option(args, "--after-close") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 60);
        // --alternate N: after the pages' phases, N rounds of one phase with the pages shown and one with them hidden (their
        // live updates paused), in alternating order; the median of the rounds' ratios is the comparison that holds the
        // node's code, heap and write-ahead log equal (single with/without phases were not repeatable to ± 10 %).
        var alternations = Option(args, "--alternate") is { } alt ? int.Parse(alt, CultureInfo.InvariantCulture) : 3;
        // --keep-wal: phases start with whatever write-ahead log the last one left (as before session 21).
        var load = new Load(inFlight, limit, FreshWal: !args.Contains("--keep-wal"));
        // --env KEY=VALUE (repeatable): extra configuration for the node, e.g. DOTNET_gcServer=0 or DOTNET_GCConserveMemory=5.
        var extra = args.Select((a, i) => (a, i)).Where(x => x.a == "--env" && x.i + 1 < args.Length).Select(x => args[x.i + 1].Split('=', 2)).ToList();

        System.Console.WriteLine($"Taskdeck console-live bench · {pageCount} pages · {executions:N0} demo.noop per phase · {inFlight} submits in flight · " +
                                 $"{Environment.ProcessorCount} cores · .NET {Environment.Version} · {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · load average {ProcStat.LoadAverage()}");
        var settings = new Dictionary<string, string>
        {
            // Development only for its static web assets (blazor.web.js, MudBlazor's files) from the build output, unpublished;
            // nothing in Taskdeck reads the environment's name.
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["Taskdeck__Auth__Anonymous"] = "Operator",
            ["Taskdeck__RateLimits__Enabled"] = "false",
            ["Logging__LogLevel__Taskdeck.Console.Hosting.IdleMemoryTrimmer"] = "Information",
        };
        foreach (var pair in extra) settings[pair[0]] = pair.Length > 1 ? pair[1] : "";
        if (extra.Count > 0) System.Console.WriteLine($"node environment: {string.Join(' ', extra.Select(p => string.Join('=', p)))}");

        // --node-cpus LIST: the node on those cores alone, while the bench (and the browsers it starts) keep the cores it was
        // started on — `taskset -c 1 dotnet … console-live --node-cpus 0` models browsers on the operators' own machines:
        // the node's core is not shared with them, so what the pages cost the node is all that changes between phases.
        var nodeCpus = Option(args, "--node-cpus");
        await using var node = await ConsoleNode.StartAsync(settings, nodeCpus);
        if (nodeCpus is not null) System.Console.WriteLine($"node on cores {ProcStat.AllowedCpus(node.Pid)}; the bench and Chromium on cores {ProcStat.AllowedCpus(Environment.ProcessId)}");
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = inFlight + 4 })
        {
            BaseAddress = node.BaseAddress, Timeout = TimeSpan.FromMinutes(2),
        };
        var startRss = node.RssMb();
        System.Console.WriteLine($"node pid {node.Pid} on {node.BaseAddress}: RSS {startRss:N0} MB when ready ({ProcStat.StatusKb(node.Pid, "RssAnon") / 1024:N0} MB anonymous, {ProcStat.StatusKb(node.Pid, "RssFile") / 1024:N0} MB file-backed, {DoubleMapped(node.Pid)})");
        try
        {
            // The DAG run the DAG pages show: a long demo.sleep root and 999 children waiting behind it (live, not moving).
            var dagRun = await SubmitDagAsync(http);
            await WarmUpAsync("warm-up", http, node, warmup, warmupRounds, load);

            var none = await RunPhaseAsync(http, node, executions, load);
            System.Console.WriteLine($"no page open: {none.Rate:N0} executions/s, {none.CpuPerExecutionUs:N0} µs node CPU each{none.Note}");

            // Idle before the pages: the same settling time as with them.
            var idleBefore = await IdleAsync(node, TimeSpan.FromSeconds(15));
            System.Console.WriteLine($"idle, no page: RSS {idleBefore.Rss:N0} MB, node CPU {idleBefore.CoreShare:P1} of a core");

            var recent = await RecentIdsAsync(http, 20);
            var urls = PageMix(pageCount, recent, dagRun);
            // --only <kind> (dashboard, grid, filtered grid, execution detail, DAG run): every page of one kind, to find what costs.
            if (Option(args, "--only") is { } only)
            {
                var same = urls.Where(u => Kind(u).StartsWith(only, StringComparison.Ordinal)).ToList();
                if (same.Count == 0) throw new ArgumentException($"--only {only}: no page of that kind (dashboard, grid, filtered grid, execution detail, DAG run)");
                urls = Enumerable.Range(0, pageCount).Select(i => same[i % same.Count]).ToList();
            }
            var chromiumPath = ChromiumPath() ?? throw new InvalidOperationException("console-live needs Chromium: /usr/bin/chromium or PLAYWRIGHT_CHROMIUM_PATH");
            await using var browser = await DevToolsPages.LaunchAsync(chromiumPath);
            var clock = Stopwatch.StartNew();
            var visible = 0;
            // A few at a time: the circuits start while the machine is shared.
            foreach (var chunk in urls.Chunk(5))
            {
                var shown = await Task.WhenAll(chunk.Select(url => browser.OpenAsync(new Uri(node.BaseAddress, url), TimeSpan.FromSeconds(120))));
                visible += shown.Count(v => v);
            }
            System.Console.WriteLine($"{browser.Count} pages live in {clock.Elapsed.TotalSeconds:N0} s ({visible} report themselves visible): {Describe(urls)}");
            var pageTotal = browser.Count;

            var chromiumIdle = ProcStat.DescendantsCpu(Environment.ProcessId, node.Pid);
            var idleWith = await IdleAsync(node, TimeSpan.FromSeconds(15));
            chromiumIdle = ProcStat.DescendantsCpu(Environment.ProcessId, node.Pid) - chromiumIdle;
            var perCircuit = (idleWith.Rss - idleBefore.Rss) / pageTotal;
            System.Console.WriteLine($"idle, {pageTotal} pages: RSS {idleWith.Rss:N0} MB ({perCircuit:N2} MB per circuit), node CPU {idleWith.CoreShare:P1} of a core, Chromium {chromiumIdle.TotalSeconds / 15:P0} of a core");

            // The pages' own warm-up, like the node's before the first phase: their first live updates compile the code that
            // renders them (tier-0, then instrumented, then optimized), a one-off cost the measured phase should not carry.
            await WarmUpAsync("warm-up with the pages", http, node, warmup, warmupRounds, load);

            var chromiumBefore = ProcStat.DescendantsCpu(Environment.ProcessId, node.Pid);
            var liveBeforeHighest = await LiveViewsCostAsync(http);
            var with = await RunPhaseAsync(http, node, executions, load);
            var liveCostHighest = (await LiveViewsCostAsync(http)).Minus(liveBeforeHighest);
            var chromiumCpu = ProcStat.DescendantsCpu(Environment.ProcessId, node.Pid) - chromiumBefore;
            var rssAfterBurst = node.RssMb();
            System.Console.WriteLine($"{pageTotal} pages open: {with.Rate:N0} executions/s, {with.CpuPerExecutionUs:N0} µs node CPU each{with.Note}; " +
                                     $"Chromium meanwhile {chromiumCpu.TotalSeconds / with.Elapsed.TotalSeconds:P0} of a core; node RSS {rssAfterBurst:N0} MB");
            System.Console.WriteLine($"  live views meanwhile ({(liveCostHighest.QuerySeconds + liveCostHighest.RenderSeconds) / with.Elapsed.TotalSeconds:P1} of a core): {liveCostHighest.DescribeViews()}");

            // The target's own terms: the node's CPU at a steady 1,000 executions/s, with the pages and (below) without.
            // At the highest rate the node's cost per execution depends on the rate itself (fuller batches are cheaper), so
            // the highest-rate phases, run at different rates, do not compare cleanly.
            var liveBefore = await LiveViewsCostAsync(http);
            var pacedWith = await RunPhaseAsync(http, node, executions, load, pace);
            var liveCost = (await LiveViewsCostAsync(http)).Minus(liveBefore);
            System.Console.WriteLine($"{pageTotal} pages open, paced at {pace:N0}/s: {pacedWith.Rate:N0} executions/s, node {pacedWith.Cores:N2} cores, {pacedWith.CpuPerExecutionUs:N0} µs each{pacedWith.Note}");

            var alternated = await AlternateAsync(http, node, browser, executions, load, alternations);

            // Close: each page unloads (Blazor's disconnect beacon) and the browser goes.
            clock.Restart();
            await browser.CloseAllAsync();
            await browser.DisposeAsync();
            System.Console.WriteLine($"pages closed in {clock.Elapsed.TotalSeconds:N0} s");
            // "A minute after the pages close" counts from when the last one has closed.
            clock.Restart();
            var samples = new List<(double At, double Rss)>();
            while (clock.Elapsed < afterClose)
            {
                await Task.Delay(TimeSpan.FromSeconds(5));
                samples.Add((clock.Elapsed.TotalSeconds, node.RssMb()));
            }
            var under = samples.FirstOrDefault(s => s.Rss < 250);
            System.Console.WriteLine($"after the pages closed: RSS {string.Join(" · ", samples.Select(s => $"{s.At:N0} s {s.Rss:N0} MB"))}; " +
                                     $"at the end {ProcStat.StatusKb(node.Pid, "RssAnon") / 1024:N0} MB anonymous, {ProcStat.StatusKb(node.Pid, "RssFile") / 1024:N0} MB file-backed, {DoubleMapped(node.Pid)}");
            // The same run again with no page, now that the node's code is as warm as it was with the pages: the first
            // no-page phase still paid for tiered compilation (instrumented code, the JIT's own work) that the later
            // phase did not, which flattered the pages' extra cost.
            var again = await RunPhaseAsync(http, node, executions, load);
            System.Console.WriteLine($"no page open again, after the pages closed: {again.Rate:N0} executions/s, {again.CpuPerExecutionUs:N0} µs node CPU each{again.Note}");
            var pacedAgain = await RunPhaseAsync(http, node, executions, load, pace);
            System.Console.WriteLine($"no page open again, paced at {pace:N0}/s: {pacedAgain.Rate:N0} executions/s, node {pacedAgain.Cores:N2} cores, {pacedAgain.CpuPerExecutionUs:N0} µs each{pacedAgain.Note}");

            // Against the warm no-page phase: the one that ran with the same compiled code as the pages' phase.
            var extraCpu = with.CpuPerExecutionUs - again.CpuPerExecutionUs;
            System.Console.WriteLine();
            System.Console.WriteLine($"{"",-44}{"no page",14}{pageTotal + " pages",14}{"no page again",16}");
            System.Console.WriteLine($"{"throughput (executions/s)",-44}{none.Rate,14:N0}{with.Rate,14:N0}{again.Rate,16:N0}   with pages {with.Rate / again.Rate:P0} of without, warm (target ≥ 90 %; {with.Rate / none.Rate:P0} of the first)");
            System.Console.WriteLine($"{"node CPU per execution (µs)",-44}{none.CpuPerExecutionUs,14:N0}{with.CpuPerExecutionUs,14:N0}{again.CpuPerExecutionUs,16:N0}   +{extraCpu:N0} µs with pages, warm");
            System.Console.WriteLine($"{"node CPU while running (cores)",-44}{none.Cores,14:N2}{with.Cores,14:N2}{again.Cores,16:N2}");
            System.Console.WriteLine($"at the highest rate: +{extraCpu:N0} µs per execution with the pages (× 1,000/s ≈ {Math.Max(0, extraCpu) * 1000 / 1e6:P1} of one core; confounded by the rates, which differ)");
            System.Console.WriteLine($"at a steady {pace:N0}/s: node {pacedWith.Cores:N2} cores with {pageTotal} pages, {pacedAgain.Cores:N2} with none: live updates cost {(pacedWith.Cores - pacedAgain.Cores) * 1000 / Math.Max(1, pacedWith.Rate):P1} of one core at 1,000 executions/s " +
                                     $"({(pacedWith.CpuPerExecutionUs - pacedAgain.CpuPerExecutionUs):N0} µs per execution; target ≤ 15 %)");
            if (alternated.Count > 0)
            {
                var ratios = alternated.Select(r => r.Shown.Rate / r.Hidden.Rate).Order().ToList();
                var cpuExtra = alternated.Select(r => r.Shown.CpuPerExecutionUs - r.Hidden.CpuPerExecutionUs).Order().ToList();
                System.Console.WriteLine($"alternated, {pageTotal} pages shown against hidden, {alternated.Count} rounds: throughput shown/hidden {string.Join(" · ", alternated.Select(r => $"{r.Shown.Rate / r.Hidden.Rate:P0}"))}, " +
                                         $"median {Median(ratios):P0} (target ≥ 90 %); node CPU per execution +{Median(cpuExtra):N0} µs shown (median)");
            }
            // Inside the node: what its live views timed themselves (queries, and the pages applying and drawing updates).
            // Excludes the events' fan-out to the models and SignalR's sending after a render.
            var liveUs = (liveCost.QuerySeconds + liveCost.RenderSeconds) * 1e6 / Math.Max(1, pacedWith.Done);
            System.Console.WriteLine($"live views' own time in the paced phase with the pages: queries {liveCost.QuerySeconds:N2} s ({liveCost.Queries:N0}), drawing {liveCost.RenderSeconds:N2} s " +
                                     $"over {pacedWith.Elapsed.TotalSeconds:N1} s = {liveUs:N0} µs per execution, ≈ {liveUs * 1000 / 1e6:P1} of one core at 1,000 executions/s");
            System.Console.WriteLine($"  by view: {liveCost.DescribeViews()}");
            System.Console.WriteLine($"RSS per idle circuit: {perCircuit:N2} MB (target ≤ 3 MB); node CPU idle {idleBefore.CoreShare:P1} of a core with no page, {idleWith.CoreShare:P1} with {pageTotal}");
            System.Console.WriteLine($"RSS {afterClose.TotalSeconds:N0} s after the pages closed: {samples[^1].Rss:N0} MB (target < 250 MB; " +
                                     (under == default ? "never under 250 MB" : $"first under 250 MB at {under.At:N0} s") + $"); at start {startRss:N0} MB");
            foreach (var line in node.LogTail(200_000).Split('\n').Where(l => l.Contains("gave back", StringComparison.Ordinal)))
                System.Console.WriteLine("node: " + line.Trim());
            System.Console.WriteLine($"load average at end {ProcStat.LoadAverage()}");
            // For experiments: the node's own log (e.g. with --env Logging__LogLevel__Microsoft.AspNetCore.Components.Server=Debug).
            if (args.Contains("--node-log")) System.Console.WriteLine(node.LogTail(200_000));
            return 0;
        }
        catch
        {
            System.Console.Error.WriteLine(node.LogTail());
            throw;
        }
    }

    /// <summary>Options every phase shares.</summary>
    /// <param name="FreshWal">Whether each phase starts with an emptied write-ahead log (<see cref="ConsoleNode.TruncateWalAsync"/>).</param>
    private sealed record Load(int InFlight, TimeSpan Limit, bool FreshWal);

    private sealed record Alternation(Phase Shown, Phase Hidden);

    /// <summary>
    /// Rounds of two highest-rate phases, the pages shown in one and hidden in the other, the order flipped every round
    /// so that drift over the run (the log, the heap, the JIT) falls on both sides alike. The pages end shown.
    /// </summary>
    private static async Task<List<Alternation>> AlternateAsync(HttpClient http, ConsoleNode node, DevToolsPages browser, int executions, Load load, int rounds)
    {
        var result = new List<Alternation>();
        for (var round = 1; round <= rounds; round++)
        {
            var hiddenFirst = round % 2 == 0;
            Phase? shown = null, hidden = null;
            foreach (var hide in hiddenFirst ? [true, false] : (bool[])[false, true])
            {
                await browser.SetHiddenAsync(hide, TimeSpan.FromSeconds(30));
                var liveBefore = await LiveViewsCostAsync(http);
                var started = DateTime.UtcNow;
                var phase = await RunPhaseAsync(http, node, executions, load);
                var live = (await LiveViewsCostAsync(http)).Minus(liveBefore);
                // The live views' own share of the node's core, and the phase's times, to set beside counters taken meanwhile.
                System.Console.WriteLine($"alternation {round}, pages {(hide ? "hidden" : "shown")} ({started:HH:mm:ss}–{DateTime.UtcNow:HH:mm:ss}): {phase.Rate:N0} executions/s, " +
                                         $"{phase.CpuPerExecutionUs:N0} µs node CPU each{phase.Note}; live views {(live.QuerySeconds + live.RenderSeconds) / phase.Elapsed.TotalSeconds:P1} of a core");
                if (!hide) System.Console.WriteLine($"  {live.DescribeViews()}");
                if (hide) hidden = phase; else shown = phase;
            }
            result.Add(new Alternation(shown!, hidden!));
        }
        await browser.SetHiddenAsync(false, TimeSpan.FromSeconds(30));
        return result;
    }

    private static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    /// <summary>Most a warmed-up node's tiering thread may use of a core, over a warm-up round, for its code to count as warm.</summary>
    private const double WarmTiering = 0.03;

    /// <summary>
    /// Most methods a warmed-up node may compile per 1,000 executions of a warm-up round. The tiering thread's CPU alone is
    /// not enough: the runtime holds its call counting back while new methods keep being compiled, so a round in which the
    /// pages' code is still being compiled for the first time can show a quiet tiering thread, and the next phase then pays
    /// for the recompilation (a round of 4,000 at 0 % tiering and 120 methods compiled, followed by a phase at 20 % and
    /// 1,440, session 41; phases of 6,000 measured warm compiled 0–169).
    /// </summary>
    private const int WarmCompiledMethodsPerThousand = 25;

    /// <summary>
    /// Rounds of <paramref name="executions"/> until the JIT is quiet — its tiering thread and its compilations — in two
    /// rounds running (or <paramref name="rounds"/> ran): the recompilations come in waves, and one quiet round was followed
    /// by a phase that compiled 626 methods (session 41).
    /// </summary>
    private static async Task WarmUpAsync(string name, HttpClient http, ConsoleNode node, int executions, int rounds, Load load)
    {
        var quietRounds = 0;
        var mostCompiled = WarmCompiledMethodsPerThousand * executions / 1000;
        for (var round = 1; round <= rounds; round++)
        {
            var warm = await RunPhaseAsync(http, node, executions, load);
            var tiering = warm.Tiering.TotalSeconds / warm.Elapsed.TotalSeconds;
            System.Console.WriteLine($"{name}, round {round}: {executions:N0} executions, {warm.Rate:N0}/s, {warm.CpuPerExecutionUs:N0} µs node CPU each{warm.Note}");
            quietRounds = tiering < WarmTiering && warm.CompiledMethods < mostCompiled ? quietRounds + 1 : 0;
            if (quietRounds == 2) return;
        }
        System.Console.WriteLine($"{name}: in {rounds} rounds no two running had the tiering thread under {WarmTiering:P0} of a core and fewer than {mostCompiled:N0} methods compiled; the next phase is measured anyway");
    }

    /// <summary>
    /// The runtime's tiered-compilation thread (its name as the kernel keeps it, 15 characters): it recompiles hot methods
    /// optimized. Its CPU in a phase says whether the node's code was still warming up then (a phase compared with another
    /// should not be paying for that).
    /// </summary>
    private const string TieringThread = ".NET Tiered Com";

    /// <param name="Done">How many of the phase's executions had Succeeded when it ended (all of them, unless it hit its time limit).</param>
    /// <param name="WalMb">The SQLite WAL's size before and after the phase.</param>
    /// <param name="Tiering">CPU the runtime's tiering thread used during the phase.</param>
    /// <param name="WalEmptied">Whether the log was emptied before the phase (null: not asked, <c>--keep-wal</c>).</param>
    /// <param name="CompiledMethods">Methods the node's JIT compiled during the phase (first compilations and tiered recompilations).</param>
    private sealed record Phase(int Done, int Asked, double Rate, double CpuPerExecutionUs, double Cores, TimeSpan Elapsed, (double Before, double After) WalMb,
        TimeSpan Tiering, bool? WalEmptied, long CompiledMethods)
    {
        public string Note => (Done == Asked ? "" : $" (time limit: only {Done:N0} of {Asked:N0} Succeeded)") +
                              $"; WAL {WalMb.Before:N0} → {WalMb.After:N0} MB{(WalEmptied == false ? " (a reader kept the log from being emptied)" : "")}; " +
                              $"JIT tiering {Tiering.TotalSeconds / Elapsed.TotalSeconds:P0} of a core, {CompiledMethods:N0} methods compiled";
    }

    /// <summary>
    /// Submits n demo.noop with a fixed number of requests in flight and waits until all of them have Succeeded, or until
    /// the load's time limit: then submitting stops and the phase counts what Succeeded by then (the rest runs later).
    /// </summary>
    /// <param name="pace">Submits per second at most (the k-th is not sent before k/pace seconds); null: as fast as the node takes them.</param>
    private static async Task<Phase> RunPhaseAsync(HttpClient http, ConsoleNode node, int n, Load load, double? pace = null)
    {
        var walEmptied = load.FreshWal ? await node.TruncateWalAsync() : (bool?)null;
        var start = await SucceededAsync(http);
        var walBefore = node.WalMb();
        var compiledBefore = await CompiledMethodsAsync(http);
        var cpu = node.Cpu();
        var tiering = new ThreadCpuMeter(node.Pid, TieringThread);
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(load.Limit);
        var next = 0;
        var body = """{"task":"demo.noop","tags":["bench"]}""";
        var submitters = Task.WhenAll(Enumerable.Range(0, load.InFlight).Select(_ => Task.Run(async () =>
        {
            int k;
            while (!stop.IsCancellationRequested && (k = Interlocked.Increment(ref next)) <= n)
            {
                if (pace is { } perSecond && TimeSpan.FromSeconds(k / perSecond) - clock.Elapsed is { Ticks: > 0 } early) await Task.Delay(early);
                using var response = await http.PostAsync("/api/tasks", new StringContent(body, Encoding.UTF8, "application/json"));
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"submit: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        })));
        int done;
        while ((done = await SucceededAsync(http) - start) < n && !stop.IsCancellationRequested)
        {
            if (submitters.IsFaulted) await submitters;
            tiering.Sample();
            await Task.Delay(200);
        }
        var elapsed = clock.Elapsed;
        var used = node.Cpu() - cpu;
        tiering.Sample();
        await submitters;
        var compiled = await CompiledMethodsAsync(http) - compiledBefore;
        return new Phase(done, n, done / elapsed.TotalSeconds, used.TotalMicroseconds / Math.Max(1, done), used / elapsed, elapsed, (walBefore, node.WalMb()), tiering.Used, walEmptied,
            compiled);
    }

    private static async Task<int> SucceededAsync(HttpClient http) =>
        (await http.GetFromJsonAsync<JsonElement>("/api/executions/stats")).GetProperty("succeeded").GetInt32();

    private sealed record Idle(double Rss, double CoreShare);

    private sealed record LiveViewsCost(double QuerySeconds, double Queries, double RenderSeconds, IReadOnlyDictionary<string, LiveViewsCost>? ByView)
    {
        public LiveViewsCost Minus(LiveViewsCost before) => new(QuerySeconds - before.QuerySeconds, Queries - before.Queries, RenderSeconds - before.RenderSeconds,
            ByView?.ToDictionary(v => v.Key, v => before.ByView?.GetValueOrDefault(v.Key) is { } was ? v.Value.Minus(was) : v.Value));

        /// <summary>"Dashboard: queries 0.31 s (9), drawing 0.02 s · …", the costliest first.</summary>
        public string DescribeViews() => ByView is null ? "" : string.Join(" · ", ByView.OrderByDescending(v => v.Value.QuerySeconds + v.Value.RenderSeconds)
            .Where(v => v.Value.Queries > 0 || v.Value.RenderSeconds > 0)
            .Select(v => $"{v.Key}: queries {v.Value.QuerySeconds:N2} s ({v.Value.Queries:N0}), drawing {v.Value.RenderSeconds:N2} s"));
    }

    /// <summary>The node's <c>/api/metrics</c> as Prometheus text, one sample a line.</summary>
    private static async Task<string[]> ScrapeAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/metrics");
        request.Headers.Accept.ParseAdd("text/plain");
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadAsStringAsync()).Split('\n');
    }

    /// <summary>Methods the node's JIT has compiled since it started (<c>dotnet_jit_compiled_methods_total</c>).</summary>
    private static async Task<long> CompiledMethodsAsync(HttpClient http)
    {
        var line = (await ScrapeAsync(http)).SingleOrDefault(l => l.StartsWith("dotnet_jit_compiled_methods_total ", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException("the node's /api/metrics has no dotnet_jit_compiled_methods_total: rebuild src/Console (Release)");
        return (long)double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
    }

    /// <summary>The node's <c>taskdeck_console_live_*</c> counters from <c>/api/metrics</c> (Prometheus text).</summary>
    private static async Task<LiveViewsCost> LiveViewsCostAsync(HttpClient http)
    {
        // Each family is labelled by the kind of view: "taskdeck_console_live_queries_total{view=\"Dashboard\"} 12".
        var samples = (await ScrapeAsync(http))
            .Where(l => l.StartsWith("taskdeck_console_live_", StringComparison.Ordinal))
            .Select(l => l.Split(' ', 2))
            .Select(p => (Family: p[0].Split('{')[0], View: p[0].Contains("view=\"", StringComparison.Ordinal) ? p[0].Split("view=\"")[1].Split('"')[0] : "",
                Value: double.Parse(p[1], CultureInfo.InvariantCulture)))
            .ToList();
        double Of(string family, string? view = null) => samples.Where(s => s.Family == family && (view is null || s.View == view)).Sum(s => s.Value);
        return new LiveViewsCost(Of("taskdeck_console_live_query_seconds_total"), Of("taskdeck_console_live_queries_total"), Of("taskdeck_console_live_render_seconds_total"),
            samples.Select(s => s.View).Distinct().ToDictionary(v => v, v => new LiveViewsCost(Of("taskdeck_console_live_query_seconds_total", v),
                Of("taskdeck_console_live_queries_total", v), Of("taskdeck_console_live_render_seconds_total", v), null)));
    }

    /// <summary>Waits with nothing submitted and returns the RSS at the end and the node's CPU share meanwhile.</summary>
    private static async Task<Idle> IdleAsync(ConsoleNode node, TimeSpan wait)
    {
        var cpu = node.Cpu();
        var clock = Stopwatch.StartNew();
        await Task.Delay(wait);
        return new Idle(node.RssMb(), (node.Cpu() - cpu) / clock.Elapsed);
    }

    private static async Task<long> SubmitDagAsync(HttpClient http)
    {
        var values = string.Join(",", Enumerable.Range(1, DagTasks - 1).Select(i => $"\"{i}\""));
        var spec = """
            {"tag":"console-live","parameters":{"N":[VALUES]},"tasks":{
              "root":{"job":{"task":"demo.sleep","args":{"seconds":3600}},"children":["leaf"]},
              "leaf":{"job":{"task":"demo.noop","args":{"n":"{{N}}"}}}}}
            """.Replace("VALUES", values);
        using var response = await http.PostAsync("/v1/dagrun", new StringContent(spec, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"DAG submit: {(int)response.StatusCode} {body}");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("runID").GetInt64();
    }

    private static async Task<List<long>> RecentIdsAsync(HttpClient http, int count)
    {
        var list = await http.GetFromJsonAsync<JsonElement>($"/api/executions?task_name=demo.noop&limit={count}");
        return list.GetProperty("tasks").EnumerateArray().Select(e => e.GetProperty("id").GetInt64()).ToList();
    }

    /// <summary>
    /// What a team keeps open: a fifth dashboards, a fifth unfiltered grids, three tenths filtered grids, a fifth execution
    /// details, a tenth the 1,000-task DAG run.
    /// </summary>
    private static List<string> PageMix(int count, IReadOnlyList<long> recent, long dagRun)
    {
        string[] filters = ["?state=Succeeded", "?task=demo.noop", "?state=Queued,Running", "?range=15m", "?tag=bench", "?state=Failed"];
        var urls = new List<string>();
        for (var i = 0; i < count; i++)
        {
            urls.Add((i % 10) switch
            {
                0 or 5 => "/",
                1 or 6 => "/executions",
                2 or 7 or 8 => "/executions" + filters[i % filters.Length],
                3 or 9 => $"/executions/{recent[i % recent.Count]}",
                _ => $"/dags/{dagRun}",
            });
        }
        return urls;
    }

    private static string Describe(IEnumerable<string> urls) => string.Join(", ", urls.GroupBy(Kind).Select(g => $"{g.Count()} {g.Key}"));

    private static string Kind(string url) => url == "/" ? "dashboard" : url.StartsWith("/dags/", StringComparison.Ordinal) ? "DAG run (1,000 tasks)"
        : url.StartsWith("/executions?", StringComparison.Ordinal) ? "filtered grid" : url == "/executions" ? "grid" : "execution detail";

    private static string? ChromiumPath()
    {
        var path = Environment.GetEnvironmentVariable("PLAYWRIGHT_CHROMIUM_PATH");
        if (string.IsNullOrWhiteSpace(path) && File.Exists("/usr/bin/chromium")) path = "/usr/bin/chromium";
        return string.IsNullOrWhiteSpace(path) ? null : path;
    }

    /// <summary>"99 MB shared, double-mapped by the runtime (31 MB executable: JIT code, stubs; 68 MB writable: loader heaps)".</summary>
    private static string DoubleMapped(int pid)
    {
        var (executable, writable) = ProcStat.DoubleMappedKb(pid);
        return $"{ProcStat.StatusKb(pid, "RssShmem") / 1024:N0} MB shared, double-mapped by the runtime ({executable / 1024:N0} MB executable: JIT code, stubs; " +
               $"{writable / 1024:N0} MB writable: loader heaps)";
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
