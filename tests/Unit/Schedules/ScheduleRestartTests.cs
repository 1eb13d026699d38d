using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Executions;

namespace Taskdeck.Unit.Schedules;

/// <summary>
/// The embedded app stopped for five minutes: a first host creates every-minute schedules and stops; a second host on
/// the same SQLite file starts with the schedules' clock five minutes later, and its start-up finds the missed slots
/// in the database.
/// </summary>
[Collection(ScheduleCollection.Name)]
public sealed class ScheduleRestartTests
{
    private sealed class Host(string folder, DateTimeOffset start) : ScheduleHost(folder, start, new Dictionary<string, string?>());

    [Fact]
    public async Task StoppedFiveMinutes_OnStart_LatestStartsOneRun_AllStartsFive()
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-restart-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        var stoppedAt = new DateTimeOffset(2026, 6, 1, 12, 0, 30, TimeSpan.Zero);
        try
        {
            await using (var first = new Host(folder, stoppedAt))
            {
                await first.CreateAsync(new ScheduleDraft { Name = "every-minute-latest", Cron = "* * * * *", Task = "demo.noop", CatchUp = CatchUpPolicy.Latest });
                await first.CreateAsync(new ScheduleDraft { Name = "every-minute-all", Cron = "* * * * *", Task = "demo.noop", CatchUp = CatchUpPolicy.All, Overlap = OverlapPolicy.Allow });
                await first.SettleAsync();
                Assert.Empty(await first.RunsAsync("every-minute-latest"));
            }

            // Five minutes later (12:05:30): the slots 12:01 … 12:05 were missed while nothing ran.
            await using var second = new Host(folder, stoppedAt.AddMinutes(5));
            await second.SettleAsync();
            var latest = await second.RunsAsync("every-minute-latest");
            var all = await second.RunsAsync("every-minute-all");

            Assert.Equal([stoppedAt.AddSeconds(270)], latest.Select(r => r.ScheduleSlot));
            Assert.Equal(Enumerable.Range(1, 5).Select(m => (DateTimeOffset?)stoppedAt.AddSeconds(-30).AddMinutes(m)), all.Select(r => r.ScheduleSlot));
            var firings = await second.FiringsAsync((await second.Store.FindByNameAsync("every-minute-latest"))!);
            Assert.Equal(FiringKind.CatchUp, Assert.Single(firings).Firing.Kind);
            Assert.Contains("5 missed slot(s)", firings[0].Firing.Message);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }
}
