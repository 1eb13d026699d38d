using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Taskdeck.Console.Hosting;
using Taskdeck.Core;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Storage;

namespace Taskdeck.Bench.Schedules;

/// <summary>
/// The firing loop with many schedules, on the embedded default (SQLite file, Hangfire InMemory, the engine's real
/// services), in one process:
/// 1. idle with 0 schedules, then idle with N schedules none of which is due in the window: the process's CPU and the
///    loop's own busy time (Stopwatch around each pass) per second of wall time, so the loop's cost is the difference
///    and its own account;
/// 2. with the N schedules still there, a probe schedule firing every second: lateness of each slot (fired − slot, and
///    run stored − slot), p50 and max.
/// </summary>
public static class ScheduleBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0]) : 10_000;
        var seconds = args.Length > 1 ? int.Parse(args[1]) : 30;
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-bench-schedules-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            using var host = Build(folder);
            await host.StartAsync();
            var runner = host.Services.GetRequiredService<ScheduleRunner>();
            var schedules = host.Services.GetRequiredService<ScheduleService>();
            System.Console.WriteLine($"schedules bench: {count:N0} schedules, {seconds} s windows, {Environment.ProcessorCount} cores");

            await Task.Delay(TimeSpan.FromSeconds(5)); // start-up settles (migrations, Hangfire, first passes)
            var empty = await IdleWindowAsync(runner, seconds);
            System.Console.WriteLine($"idle, 0 schedules:        process {empty.ProcessPercent:0.00} % of a core, loop busy {empty.LoopPercent:0.000} % ({empty.Passes} passes)");

            var created = await CreateIdleSchedulesAsync(schedules, count);
            System.Console.WriteLine($"created {count:N0} schedules in {created.TotalSeconds:0.0} s");
            // Let the loop take them in: one reload after the last change, then quiet.
            var reloads = runner.Reloads;
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (runner.Reloads == reloads && DateTime.UtcNow < deadline) await Task.Delay(100);
            await Task.Delay(TimeSpan.FromSeconds(3));
            System.Console.WriteLine($"a reload of every definition takes {runner.LastReloadDuration.TotalMilliseconds:0} ms (once per change to any schedule)");

            var loaded = await IdleWindowAsync(runner, seconds);
            System.Console.WriteLine($"idle, {count:N0} schedules:   process {loaded.ProcessPercent:0.00} % of a core, loop busy {loaded.LoopPercent:0.000} % ({loaded.Passes} passes)");
            System.Console.WriteLine($"  the loop's idle cost: {loaded.LoopPercent:0.000} % of a core by its own account; process difference {loaded.ProcessPercent - empty.ProcessPercent:+0.00;-0.00} points");

            var (fired, stored) = await LatenessAsync(host.Services, schedules, runner, seconds);
            System.Console.WriteLine($"probe every second among {count:N0}: {fired.Count} slots; fired − slot p50 {Percentile(fired, 0.5):0} ms, max {fired.Max():0} ms; " +
                $"run stored − slot p50 {Percentile(stored, 0.5):0} ms, max {stored.Max():0} ms");

            System.Console.WriteLine();
            System.Console.WriteLine("| schedules | process CPU, idle | loop busy, idle | reload | probe fired − slot p50 / max | run stored − slot p50 / max |");
            System.Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
            System.Console.WriteLine($"| 0 | {empty.ProcessPercent:0.00} % | {empty.LoopPercent:0.000} % | | | |");
            System.Console.WriteLine($"| {count:N0} | {loaded.ProcessPercent:0.00} % | {loaded.LoopPercent:0.000} % | {runner.LastReloadDuration.TotalMilliseconds:0} ms | " +
                $"{Percentile(fired, 0.5):0} / {fired.Max():0} ms | {Percentile(stored, 0.5):0} / {stored.Max():0} ms |");
            await host.StopAsync();
            return loaded.LoopPercent < 1 && fired.Max() < 1000 ? 0 : 1;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private sealed record Window(double ProcessPercent, double LoopPercent, long Passes);

    private static async Task<Window> IdleWindowAsync(ScheduleRunner runner, int seconds)
    {
        var cpu = CpuNow();
        var busy = runner.BusyTime;
        var passes = runner.Passes;
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var wall = clock.Elapsed;
        return new Window((CpuNow() - cpu) / wall * 100, (runner.BusyTime - busy) / wall * 100, runner.Passes - passes);
    }

    /// <summary>Daily-to-yearly crons at random times on days other than today and tomorrow: none is due in the windows.</summary>
    private static async Task<TimeSpan> CreateIdleSchedulesAsync(ScheduleService schedules, int count)
    {
        var random = new Random(42);
        var today = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var actor = new Actor("bench", ActorKind.System);
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            int month, day;
            lock (random)
            {
                do { month = random.Next(1, 13); day = random.Next(1, 29); }
                while (month == today.Month && Math.Abs(day - today.Day) <= 1);
            }
            var minute = i % 60;
            var hour = i / 60 % 24;
            var outcome = await schedules.CreateAsync(new ScheduleDraft
            {
                Name = $"bench-{i:D5}", Cron = $"{minute} {hour} {day} {month} *", TimeZone = (i % 3) switch { 0 => "UTC", 1 => "Europe/Berlin", _ => "America/New_York" },
                Task = "demo.noop",
            }, actor, ct: ct);
            if (!outcome.Done) throw new InvalidOperationException(outcome.Message);
        });
        return clock.Elapsed;
    }

    private static async Task<(List<double> Fired, List<double> Stored)> LatenessAsync(IServiceProvider services, ScheduleService schedules, ScheduleRunner runner, int seconds)
    {
        var actor = new Actor("bench", ActorKind.System);
        var probe = await schedules.CreateAsync(new ScheduleDraft
        {
            Name = "bench-probe", Cron = "* * * * * *", Task = "demo.noop", Overlap = OverlapPolicy.Allow, CatchUp = CatchUpPolicy.All,
        }, actor);
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        await schedules.PauseAsync(probe.Schedule!.Id, actor);
        await Task.Delay(TimeSpan.FromSeconds(2));

        var contexts = services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>();
        await using var db = await contexts.CreateDbContextAsync();
        var firings = await db.ScheduleFirings.AsNoTracking().Where(f => f.ScheduleId == probe.Schedule.Id).ToListAsync();
        var runs = await db.Executions.AsNoTracking().Where(e => e.ScheduleName == "bench-probe").Select(e => new { e.ScheduleSlot, e.CreatedAt }).ToListAsync();
        // The first slots fire while the reload of every definition that the probe's creation caused may still run: skip 2 s.
        var from = firings.Min(f => f.Slot).AddSeconds(2);
        var fired = firings.Where(f => f.Slot >= from).Select(f => (f.FiredAt - f.Slot).TotalMilliseconds).ToList();
        var stored = runs.Where(r => r.ScheduleSlot >= from).Select(r => (r.CreatedAt - r.ScheduleSlot!.Value).TotalMilliseconds).ToList();
        if (firings.Any(f => f.Outcome != FiringOutcome.Started)) System.Console.WriteLine($"  note: {firings.Count(f => f.Outcome != FiringOutcome.Started)} probe firings did not start a run");
        return (fired, stored);
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Clamp(Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static IHost Build(string folder)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Taskdeck"] = $"Data Source={Path.Combine(folder, "taskdeck.db")}",
            ["Taskdeck:Demo:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddTaskdeckCore(builder.Configuration);
        builder.Services.AddTaskdeckAdapters();
        builder.Services.AddTaskdeckData(builder.Configuration, folder);
        builder.Services.AddTaskdeckHangfire(builder.Configuration);
        return builder.Build();
    }

    private static TimeSpan CpuNow()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }
}
