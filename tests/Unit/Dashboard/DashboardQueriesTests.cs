using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dashboard;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Dashboard;

/// <summary>
/// The dashboard's aggregates against a real database (SQLite, PostgreSQL): what the database computes, checked by hand. Its
/// hand-written statements are the provider's own SQL, so each provider runs them.
/// </summary>
public abstract class DashboardQueriesTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-dash-" + Guid.NewGuid().ToString("N")[..8]);
    private ServiceProvider _services = default!;
    private DashboardQueries Queries => _services.GetRequiredService<DashboardQueries>();
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 30, TimeSpan.Zero);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        var config = new ConfigurationBuilder().AddInMemoryCollection(await SettingsAsync(_folder)).Build();
        _services = new ServiceCollection().AddLogging().AddTaskdeckData(config, _folder).BuildServiceProvider();
        await using var db = await _services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        await db.Database.MigrateAsync();
    }

    private async Task AddAsync(params (string Name, ExecutionState State, double? AgoMinutes, double RunSeconds)[] rows)
    {
        await using var db = await _services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        foreach (var (name, state, ago, run) in rows)
        {
            DateTimeOffset? finished = ago is { } m ? Now.AddMinutes(-m) : null;
            DateTimeOffset? started = finished?.AddSeconds(-run) ?? (state == ExecutionState.Running ? Now.AddSeconds(-run) : null);
            db.Executions.Add(new Execution
            {
                TaskId = Guid.NewGuid().ToString(), Name = name, State = state, Queue = "default",
                CreatedAt = (started ?? Now).AddSeconds(-1), UpdatedAt = finished ?? Now, StartedAt = started, FinishedAt = finished,
            });
        }
        await db.SaveChangesAsync();
    }

    /// <summary>
    /// The live dashboard keeps the hour's and the day's outcomes from a read a few minutes old and moves them on by what
    /// finished since and what left each window: the same cards and donut as a fresh read.
    /// </summary>
    [Fact]
    public async Task OutcomesOfAnEarlierRead_MovedOnByWhatFinishedAndWhatLeft_AreAFreshReadsOutcomes()
    {
        var earlier = Now.AddMinutes(-3);
        await AddAsync(
            ("a", ExecutionState.Succeeded, 62, 1), ("b", ExecutionState.Failed, 61.5, 1), // left the hour since
            ("a", ExecutionState.Succeeded, 60 * 24 + 1.5, 1), // left the day since
            ("a", ExecutionState.Succeeded, 30, 1), ("a", ExecutionState.Succeeded, 60 * 23, 1),
            ("a", ExecutionState.Succeeded, 2, 1), ("c", ExecutionState.Queued, null, 0)); // finished since; still waiting
        var kept = new FinishedOutcomes(
            await Queries.FinishedBetweenAsync(earlier.AddHours(-1), earlier), await Queries.FinishedBetweenAsync(earlier.AddHours(-24), earlier));

        var moved = kept.Moved(
            await Queries.FinishedBetweenAsync(earlier, null),
            await Queries.FinishedBetweenAsync(earlier.AddHours(-1), Now.AddHours(-1)),
            await Queries.FinishedBetweenAsync(earlier.AddHours(-24), Now.AddHours(-24)));
        var spliced = await Queries.SummaryAsync(moved, Now, TimeSpan.FromSeconds(30));
        var fresh = await Queries.SummaryAsync(Now, TimeSpan.FromSeconds(30));

        Assert.Equal((2, 1, 0), (kept.Hour[ExecutionState.Succeeded], kept.Hour[ExecutionState.Failed], fresh.Counts.FailedLastHour));
        Assert.Equal(fresh.Counts, spliced.Counts);
        Assert.Equal((2, 0, 4, 1), (spliced.Counts.SucceededLastHour, spliced.Counts.FailedLastHour, spliced.Counts.Succeeded24h, spliced.Counts.Failed24h));
        Assert.Equal(fresh.States.OrderBy(s => s.Key), spliced.States.OrderBy(s => s.Key));
    }

    [Fact]
    public async Task Counts_SplitLastHourFrom24Hours_AndCountFailuresOfEveryKind()
    {
        await AddAsync(
            ("a", ExecutionState.Succeeded, 5, 1), ("a", ExecutionState.Succeeded, 90, 1), ("a", ExecutionState.Succeeded, 60 * 30, 1),
            ("b", ExecutionState.Failed, 10, 1), ("b", ExecutionState.TimedOut, 20, 1), ("b", ExecutionState.Lost, 300, 1), ("b", ExecutionState.Cancelled, 5, 1),
            ("c", ExecutionState.Queued, null, 0), ("c", ExecutionState.Queued, null, 0), ("c", ExecutionState.Pending, null, 0), ("c", ExecutionState.Running, null, 3));

        var counts = (await Queries.SummaryAsync(Now, TimeSpan.FromSeconds(30))).Counts;

        Assert.Equal(2, counts.Queued);
        Assert.Equal(1, counts.Waiting);
        Assert.Equal(1, counts.Running);
        Assert.Equal(1, counts.SucceededLastHour);
        Assert.Equal(2, counts.Succeeded24h);
        Assert.Equal(2, counts.FailedLastHour);
        Assert.Equal(3, counts.Failed24h);
        Assert.NotNull(counts.OldestQueuedAt);
    }

    [Fact]
    public async Task Throughput_BucketsByMinute_WithEmptyMinutesPresent()
    {
        // Now is 12:00:30; finished at 11:59:30 (x2, one failed) and 11:57:30.
        await AddAsync(("a", ExecutionState.Succeeded, 1, 1), ("a", ExecutionState.Failed, 1, 1), ("a", ExecutionState.Succeeded, 3, 1));

        var buckets = await Queries.ThroughputAsync(Now.AddMinutes(-5), Now, TimeSpan.FromMinutes(1));

        Assert.Equal(6, buckets.Count); // 11:55 … 12:00
        Assert.All(buckets.Zip(buckets.Skip(1)), pair => Assert.Equal(TimeSpan.FromMinutes(1), pair.Second.Start - pair.First.Start));
        var at = buckets.ToDictionary(b => b.Start.ToString("HH:mm"));
        Assert.Equal((1, 1), (at["11:59"].Succeeded, at["11:59"].Failed));
        Assert.Equal((1, 0), (at["11:57"].Succeeded, at["11:57"].Failed));
        Assert.Equal((0, 0), (at["11:58"].Succeeded, at["11:58"].Failed));
    }

    [Fact]
    public async Task Durations_GiveP50AndP95PerTask_BusiestFirst()
    {
        // twenty runs of 1..20 s: p50 = 10 s, p95 = 19 s (nearest rank); two runs of another task.
        await AddAsync(Enumerable.Range(1, 20).Select(i => ("slow", ExecutionState.Succeeded, (double?)i, (double)i))
            .Concat([("fast", ExecutionState.Succeeded, 2, 0.5), ("fast", ExecutionState.Succeeded, 3, 0.5), ("slow", ExecutionState.Failed, 1, 999)]).ToArray());

        var durations = await Queries.DurationsAsync(Now.AddHours(-24), 8);

        Assert.Equal(["slow", "fast"], durations.Select(d => d.Name));
        Assert.Equal(TimeSpan.FromSeconds(10), durations[0].P50);
        Assert.Equal(TimeSpan.FromSeconds(19), durations[0].P95);
        Assert.Equal(20, durations[0].Count);
        Assert.Equal(TimeSpan.FromSeconds(0.5), durations[1].P50);
    }

    [Fact]
    public async Task StatesNow_CountsLiveWork_AndOnlyRecentOutcomes()
    {
        await AddAsync(("a", ExecutionState.Succeeded, 5, 1), ("a", ExecutionState.Succeeded, 60 * 30, 1), ("a", ExecutionState.Running, null, 1), ("a", ExecutionState.Queued, null, 0));

        var states = (await Queries.SummaryAsync(Now, TimeSpan.FromSeconds(30))).States;

        Assert.Equal(1, states[ExecutionState.Succeeded]);
        Assert.Equal(1, states[ExecutionState.Running]);
        Assert.Equal(1, states[ExecutionState.Queued]);
    }

    [Fact]
    public async Task Summary_IsTheCountsAndTheDaysStates_ReadTogether()
    {
        await AddAsync(("a", ExecutionState.Succeeded, 5, 1), ("a", ExecutionState.Succeeded, 60 * 30, 1), ("b", ExecutionState.Failed, 10, 1),
            ("b", ExecutionState.Cancelled, 20, 1), ("c", ExecutionState.Running, null, 1), ("c", ExecutionState.Queued, null, 0), ("c", ExecutionState.Pending, null, 0));

        var summary = await Queries.SummaryAsync(Now, TimeSpan.FromSeconds(30));

        Assert.Equal((1, 1, 1), (summary.Counts.Queued, summary.Counts.Waiting, summary.Counts.Running));
        Assert.Equal((1, 1, 1, 1), (summary.Counts.SucceededLastHour, summary.Counts.Succeeded24h, summary.Counts.FailedLastHour, summary.Counts.Failed24h));
        // The donut: every live state present, every outcome of the day (zero included), nothing older.
        Assert.Equal([ExecutionState.Pending, ExecutionState.Queued, ExecutionState.Running, ExecutionState.Succeeded, ExecutionState.Failed,
            ExecutionState.TimedOut, ExecutionState.Cancelled, ExecutionState.Lost, ExecutionState.Expired], summary.States.Keys.Order());
        Assert.Equal(1, summary.States[ExecutionState.Succeeded]);
        Assert.Equal(1, summary.States[ExecutionState.Failed]);
        Assert.Equal(0, summary.States[ExecutionState.TimedOut]);
        Assert.Equal(1, summary.States[ExecutionState.Cancelled]);
        Assert.Equal(1, summary.States[ExecutionState.Pending]);
    }

    protected abstract Task<Dictionary<string, string?>> SettingsAsync(string folder);

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

public sealed class SqliteDashboardQueriesTests : DashboardQueriesTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync(string folder) =>
        Task.FromResult(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = $"Data Source={Path.Combine(folder, "t.db")}" });
}

[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlDashboardQueriesTests(PostgresServer postgres) : DashboardQueriesTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync(string folder) => postgres.StorageSettingsAsync();
}
