using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Executions;

namespace Taskdeck.Unit.Schedules;

/// <summary>Hangfire's statics allow one app host at a time: every host-starting schedule test joins this collection.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ScheduleCollection : ICollectionFixture<ScheduleHost>
{
    public const string Name = "Schedules (fake clock)";
}

/// <summary>
/// The real app on a temp SQLite file whose <see cref="TimeProvider"/> is a <see cref="FakeTimeProvider"/>: the tests
/// move the clock and the firing loop sees slots come due (Hangfire's workers still run the executions for real).
/// </summary>
public class ScheduleHost : WebApplicationFactory<Program>
{
    private readonly bool _ownsFolder;

    public ScheduleHost() : this(null, new DateTimeOffset(2026, 1, 5, 10, 0, 30, TimeSpan.Zero), new Dictionary<string, string?> { ["Taskdeck:Scheduling:CatchUpCap"] = "3" }) { }

    /// <param name="folder">An existing folder whose database to reuse (a restart); a new temp folder when null.</param>
    protected ScheduleHost(string? folder, DateTimeOffset start, IReadOnlyDictionary<string, string?> settings)
    {
        _ownsFolder = folder is null;
        Folder = folder ?? Path.Combine(Path.GetTempPath(), "taskdeck-schedules-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Folder);
        Clock = new FakeTimeProvider(start);
        Settings = settings;
    }

    public string Folder { get; }
    public FakeTimeProvider Clock { get; }
    private IReadOnlyDictionary<string, string?> Settings { get; }

    /// <summary>Gates that <c>test.gate</c> waits on, per execution: a run that stays "still going" until released.</summary>
    public ConcurrentDictionary<long, TaskCompletionSource> Gates { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("ConnectionStrings:Taskdeck", $"Data Source={Path.Combine(Folder, "taskdeck.db")}");
        builder.UseSetting("Taskdeck:Demo:Enabled", "false");
        // Acts without signing in; tests/Unit/Auth covers who may do what.
        builder.UseSetting("Taskdeck:Auth:Anonymous", "Admin");
        builder.UseSetting("Taskdeck:Commands:Enabled", "true");
        builder.UseSetting("Taskdeck:Commands:Allow:0", "/bin/true");
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
        builder.ConfigureTestServices(services =>
        {
            services.AddKeyedSingleton<TimeProvider>(ScheduleServices.ClockKey, Clock);
            services.AddTaskHandler("test.gate", async context =>
            {
                var gate = Gates.GetOrAdd(context.ExecutionId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                await gate.Task.WaitAsync(context.CancellationToken);
                return "released";
            });
        });
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();
    public ScheduleService Schedules => Get<ScheduleService>();
    public ScheduleRunner Runner => Get<ScheduleRunner>();
    public IScheduleStore Store => Get<IScheduleStore>();

    public void Release(long executionId) =>
        Gates.GetOrAdd(executionId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Moves the clock and waits (real time, with a deadline) for the loop to finish a pass at the new time.</summary>
    public async Task AdvanceAsync(TimeSpan by)
    {
        Clock.Advance(by);
        await SettleAsync();
    }

    public async Task SetAsync(DateTimeOffset to)
    {
        Clock.SetUtcNow(to);
        await SettleAsync();
    }

    /// <summary>Waits until the loop has completed a pass that started at (or after) the fake clock's current time.</summary>
    public async Task SettleAsync()
    {
        _ = Services; // the host is started
        var target = Clock.GetUtcNow();
        var until = DateTime.UtcNow.AddSeconds(30);
        while (Runner.LastPassAt < target)
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"The schedule loop made no pass at {target:O} (last {Runner.LastPassAt:O}).");
            Runner.Poke();
            await Task.Delay(10);
        }
    }

    /// <summary>A clean minute for a test: the next whole day after the clock, plus 30 s (slots of "* * * * *" are 30 s away).</summary>
    public async Task<DateTimeOffset> FreshStartAsync()
    {
        var now = Clock.GetUtcNow();
        var start = new DateTimeOffset(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero).AddSeconds(30);
        await SetAsync(start);
        return start;
    }

    public async Task<Schedule> CreateAsync(ScheduleDraft draft)
    {
        var outcome = await Schedules.CreateAsync(draft, Taskdeck.Core.Audit.Actor.System);
        Assert.True(outcome.Done, outcome.Message);
        return outcome.Schedule!;
    }

    /// <summary>The schedule's firings, oldest first.</summary>
    public async Task<IReadOnlyList<FiringView>> FiringsAsync(Schedule s) =>
        (await Store.FiringsAsync(s.Id, null, 1000)).Reverse().ToList();

    public async Task<IReadOnlyList<Execution>> RunsAsync(string schedule)
    {
        var (items, _) = await Get<ExecutionQueries>().NewestAsync(new ExecutionFilter { Schedule = schedule }, null, 100);
        return items.Reverse().ToList();
    }

    public async Task<Execution> WaitForStateAsync(long id, Func<ExecutionState, bool> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var e = await Get<IExecutionReader>().FindAsync(id);
            if (e is not null && condition(e.State)) return e;
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"Execution {id}: {what} not reached; it is {e?.State}.");
            await Task.Delay(20);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (var gate in Gates.Values) gate.TrySetResult();
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_ownsFolder) try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
