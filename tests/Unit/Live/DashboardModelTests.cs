using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Taskdeck.Console.Live;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dashboard;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Live;

/// <summary>
/// The dashboard's shared model on a real SQLite file: a refresh re-reads the live states, what finished since its last
/// full read and the throughput's last buckets, and keeps the finished buckets, the hour's and day's outcomes before that
/// read (and the day's run times, the queue samples) until the next full read is due or a deletion may have changed them.
/// </summary>
public sealed class DashboardModelTests : LiveModelOnSqlite<DashboardSnapshot>
{
    private async Task SucceededAsync(DateTimeOffset finishedAt)
    {
        await using var db = await Contexts.CreateDbContextAsync();
        db.Executions.Add(new Execution
        {
            TaskId = Guid.NewGuid().ToString(), Name = "report.daily", State = ExecutionState.Succeeded, Queue = "default",
            CreatedAt = finishedAt.AddSeconds(-2), UpdatedAt = finishedAt, StartedAt = finishedAt.AddSeconds(-1), FinishedAt = finishedAt,
        });
        await db.SaveChangesAsync();
    }

    private Task<DashboardModel> WatchedAsync(TimeSpan historyInterval) =>
        WatchedAsync(new DashboardModel("1h", Services.GetRequiredService<DashboardQueries>(), TimeSpan.FromSeconds(30), Events,
            new LiveCadence { MinInterval = TimeSpan.FromMilliseconds(50), HistoryInterval = historyInterval }, TimeProvider.System, NullLogger.Instance));

    private static StateChanged ASuccess() =>
        new(1, DateTimeOffset.UtcNow, ExecutionState.Running, ExecutionState.Succeeded, Transition.Succeed, 1, null, "node");

    private static int SucceededIn(DashboardSnapshot snapshot, DateTimeOffset at) =>
        snapshot.Buckets.Single(b => b.Start <= at && at < b.Start.AddMinutes(1)).Succeeded;

    [Fact]
    public async Task ARefresh_KeepsWhatFinishedBeforeItsLastFullRead_UntilADeletion()
    {
        var tenMinutesAgo = DateTimeOffset.UtcNow.AddMinutes(-10);
        await SucceededAsync(tenMinutesAgo);
        await using var model = await WatchedAsync(historyInterval: TimeSpan.FromHours(1));
        var first = model.Current!;
        Assert.Equal(1, SucceededIn(first, tenMinutesAgo));

        // Written behind the model's back into a bucket that has ended: only a full read counts it.
        await SucceededAsync(tenMinutesAgo);
        var second = await RefreshedAsync(ASuccess());

        Assert.Equal(first.Counts.SucceededLastHour, second.Counts.SucceededLastHour);
        Assert.Equal(1, SucceededIn(second, tenMinutesAgo));
        Assert.Equal(60, second.Buckets.Count);
        Assert.Equal(1, model.HistoryReads);

        // A deletion may leave any bucket: the next refresh reads them all.
        var third = await RefreshedAsync(new ExecutionDeleted(2, DateTimeOffset.UtcNow));

        Assert.Equal(2, SucceededIn(third, tenMinutesAgo));
        Assert.Equal(first.Counts.SucceededLastHour + 1, third.Counts.SucceededLastHour);
        Assert.Equal(2, model.HistoryReads);
    }

    /// <summary>
    /// Between full reads the cards move on their own: a run that finishes now is counted, one that has just left the last
    /// hour is not (it stays in the day's), with no full read.
    /// </summary>
    [Fact]
    public async Task TheCards_CountWhatFinishedSince_AndLetGoWhatLeftTheHour_WithoutAFullRead()
    {
        // About to leave the hour: the model's full read (just below) must come before it leaves, even on a busy machine.
        var leavesTheHourAt = DateTimeOffset.UtcNow.AddSeconds(6);
        await SucceededAsync(leavesTheHourAt.AddHours(-1));
        await SucceededAsync(DateTimeOffset.UtcNow.AddMinutes(-10));
        await using var model = await WatchedAsync(historyInterval: TimeSpan.FromHours(1));
        Assert.Equal((2, 2), (model.Current!.Counts.SucceededLastHour, model.Current.Counts.Succeeded24h));

        await Task.Delay(leavesTheHourAt - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(0.5));
        await SucceededAsync(DateTimeOffset.UtcNow);
        var refreshed = await RefreshedAsync(ASuccess());

        Assert.Equal((2, 3), (refreshed.Counts.SucceededLastHour, refreshed.Counts.Succeeded24h));
        Assert.Equal(3, refreshed.States[ExecutionState.Succeeded]);
        Assert.Equal(1, model.HistoryReads);
    }

    /// <summary>
    /// A run is written behind the model's back into a bucket that has ended, after its first read; what happens next
    /// (<paramref name="then"/>) must make the following refresh read the buckets again and show it.
    /// </summary>
    private async Task AssertTheHistoryIsReadAgain(TimeSpan historyInterval, Func<Task<DashboardSnapshot>> then)
    {
        var tenMinutesAgo = DateTimeOffset.UtcNow.AddMinutes(-10);
        await using var model = await WatchedAsync(historyInterval);
        await SucceededAsync(tenMinutesAgo);

        var refreshed = await then();

        Assert.Equal(1, SucceededIn(refreshed, tenMinutesAgo));
        Assert.Equal(2, model.HistoryReads);
    }

    // A retry clears a finished record's finish time: it leaves its bucket.
    [Fact]
    public Task AFinishedRecordSentBackToRun_MakesTheHistoryReadAgain() =>
        AssertTheHistoryIsReadAgain(TimeSpan.FromHours(1), () =>
            RefreshedAsync(new StateChanged(3, DateTimeOffset.UtcNow, ExecutionState.Succeeded, ExecutionState.Queued, Transition.Retry, 1, null, "node")));

    [Fact]
    public Task TheFinishedBuckets_AreReadAgain_OnceTheHistoryIntervalHasPassed() =>
        AssertTheHistoryIsReadAgain(TimeSpan.FromSeconds(1), async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1.2));
            return await RefreshedAsync(ASuccess());
        });

    [Fact]
    public void TheBuckets_AreSplicedOnlyWhereTheyMeet()
    {
        var minute = TimeSpan.FromMinutes(1);
        var at = new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
        ThroughputBucket Bucket(int minutesFromNoon, int succeeded) => new(at.AddMinutes(minutesFromNoon), succeeded, 0);
        var known = Enumerable.Range(-60, 60).Select(m => Bucket(m, 1)).ToList(); // 11:00 … 11:59
        var since = at.AddSeconds(30).AddHours(-1).Add(minute); // now 12:00:30: the window starts 11:01

        var spliced = DashboardModel.Splice(known, [Bucket(-1, 7), Bucket(0, 3)], since, minute);

        Assert.NotNull(spliced);
        Assert.Equal(at.AddMinutes(-59), spliced[0].Start);
        Assert.Equal(60, spliced.Count);
        Assert.Equal((7, 3), (spliced[^2].Succeeded, spliced[^1].Succeeded));
        // Known buckets that end before the recent ones start leave a gap: null, read them all.
        Assert.Null(DashboardModel.Splice(known.Take(50).ToList(), [Bucket(-1, 7), Bucket(0, 3)], since, minute));
    }
}
