using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Unit.Schedules;

/// <summary>
/// Every overlap and catch-up policy, daylight-saving days and start/end dates, driven by a fake clock through the
/// real firing loop, store and engine. Each test starts on a fresh day and deletes its schedules.
/// </summary>
[Collection(ScheduleCollection.Name)]
public sealed class SchedulePolicyTests(ScheduleHost host)
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static ScheduleDraft EveryMinute(string name, string task = "test.gate") => new()
    {
        Name = name + "-" + Guid.NewGuid().ToString("N")[..6], Cron = "* * * * *", Task = task, Kind = ScheduleTargetKind.Handler,
    };

    private async Task<T> WithScheduleAsync<T>(ScheduleDraft draft, Func<Schedule, Task<T>> test)
    {
        var schedule = await host.CreateAsync(draft);
        try { return await test(schedule); }
        finally
        {
            await host.Schedules.DeleteAsync(schedule.Id, Taskdeck.Core.Audit.Actor.System);
            foreach (var run in await host.RunsAsync(schedule.Name)) host.Release(run.Id);
        }
    }

    [Fact]
    public async Task OverlapSkip_SlotWhilePreviousRuns_IsRecordedSkipped_AndTheNextSlotAfterItEndsStarts()
    {
        await host.FreshStartAsync();
        await WithScheduleAsync(EveryMinute("skip") with { Overlap = OverlapPolicy.Skip }, async s =>
        {
            await host.AdvanceAsync(Minute);                 // slot 1 starts a run that keeps going
            var first = Assert.Single(await host.RunsAsync(s.Name));
            await host.AdvanceAsync(Minute);                 // slot 2: the first still runs
            Assert.Single(await host.RunsAsync(s.Name));
            host.Release(first.Id);
            await host.WaitForStateAsync(first.Id, st => st == ExecutionState.Succeeded, "succeeded");
            await host.AdvanceAsync(Minute);                 // slot 3: nothing runs any more

            var firings = await host.FiringsAsync(s);
            Assert.Equal([FiringOutcome.Started, FiringOutcome.Skipped, FiringOutcome.Started], firings.Select(f => f.Firing.Outcome));
            Assert.Contains($"execution {first.Id} still running", firings[1].Firing.Message);
            Assert.Equal(2, (await host.RunsAsync(s.Name)).Count);
            return true;
        });
    }

    [Fact]
    public async Task OverlapAllow_SlotWhilePreviousRuns_StartsASecondRunBesideIt()
    {
        await host.FreshStartAsync();
        await WithScheduleAsync(EveryMinute("allow") with { Overlap = OverlapPolicy.Allow }, async s =>
        {
            await host.AdvanceAsync(Minute);
            await host.AdvanceAsync(Minute);
            var runs = await host.RunsAsync(s.Name);
            Assert.Equal(2, runs.Count);
            await host.WaitForStateAsync(runs[0].Id, st => !st.IsTerminal(), "still going");
            Assert.All(await host.FiringsAsync(s), f => Assert.Equal(FiringOutcome.Started, f.Firing.Outcome));
            return true;
        });
    }

    [Fact]
    public async Task OverlapBufferOne_KeepsOneSlotWaiting_SkipsTheNext_AndStartsTheWaitingOneWhenThePreviousEnds()
    {
        var start = await host.FreshStartAsync();
        await WithScheduleAsync(EveryMinute("buffer") with { Overlap = OverlapPolicy.BufferOne }, async s =>
        {
            await host.AdvanceAsync(Minute);                 // slot 1 runs
            var first = Assert.Single(await host.RunsAsync(s.Name));
            await host.AdvanceAsync(Minute);                 // slot 2 waits
            await host.AdvanceAsync(Minute);                 // slot 3: one already waits
            var firings = await host.FiringsAsync(s);
            Assert.Equal([FiringOutcome.Started, FiringOutcome.Buffered, FiringOutcome.Skipped], firings.Select(f => f.Firing.Outcome));
            Assert.Single(await host.RunsAsync(s.Name));

            host.Release(first.Id);
            await host.WaitForStateAsync(first.Id, st => st == ExecutionState.Succeeded, "succeeded");
            await host.AdvanceAsync(TimeSpan.FromSeconds(1)); // the waiting slot is looked at every second

            firings = await host.FiringsAsync(s);
            Assert.Equal(FiringOutcome.Started, firings[1].Firing.Outcome);
            var second = (await host.RunsAsync(s.Name)).Single(r => r.Id != first.Id);
            Assert.Equal(firings[1].Firing.ExecutionId, second.Id);
            Assert.Equal(start.AddSeconds(30).AddMinutes(1), second.ScheduleSlot); // the buffered run carries its own slot
            return true;
        });
    }

    [Fact]
    public async Task OverlapCancelPrevious_CancelsTheRunningOne_AndStartsTheNew()
    {
        await host.FreshStartAsync();
        await WithScheduleAsync(EveryMinute("cancel") with { Overlap = OverlapPolicy.CancelPrevious }, async s =>
        {
            await host.AdvanceAsync(Minute);
            var first = Assert.Single(await host.RunsAsync(s.Name));
            await host.WaitForStateAsync(first.Id, st => st == ExecutionState.Running, "running");
            await host.AdvanceAsync(Minute);

            await host.WaitForStateAsync(first.Id, st => st == ExecutionState.Cancelled, "cancelled by the next slot");
            var runs = await host.RunsAsync(s.Name);
            Assert.Equal(2, runs.Count);
            Assert.False(runs[1].State.IsTerminal());
            var firings = await host.FiringsAsync(s);
            Assert.All(firings, f => Assert.Equal(FiringOutcome.Started, f.Firing.Outcome));
            Assert.Contains($"cancelled execution {first.Id}", firings[1].Firing.Message);
            return true;
        });
    }

    [Theory]
    [InlineData(CatchUpPolicy.None, 0)]
    [InlineData(CatchUpPolicy.Latest, 1)]
    [InlineData(CatchUpPolicy.All, 3)] // five missed, capped at Taskdeck:Scheduling:CatchUpCap = 3 in this host
    public async Task CatchUp_AfterFiveMissedSlots_StartsWhatThePolicySays(CatchUpPolicy policy, int expected)
    {
        var start = await host.FreshStartAsync();
        await WithScheduleAsync(EveryMinute("catchup", "demo.noop") with { CatchUp = policy, Overlap = OverlapPolicy.Allow }, async s =>
        {
            // One jump of five minutes and a half: the loop wakes late, as after a stall, and finds five slots missed.
            await host.AdvanceAsync(TimeSpan.FromSeconds(5 * 60 + 10));
            var firings = await host.FiringsAsync(s);
            Assert.Equal(expected, firings.Count);
            Assert.All(firings, f => Assert.Equal(FiringKind.CatchUp, f.Firing.Kind));
            var lastMissed = start.AddSeconds(30).AddMinutes(4);
            if (expected > 0) Assert.Equal(lastMissed, firings[^1].Firing.Slot); // the most recent slots, oldest first
            Assert.Equal(Enumerable.Range(0, expected).Select(i => lastMissed.AddMinutes(i - expected + 1)), firings.Select(f => f.Firing.Slot));
            Assert.Equal(expected, (await host.RunsAsync(s.Name)).Count);

            // The next slot is on time whatever the policy.
            await host.SetAsync(lastMissed.AddMinutes(1));
            var next = (await host.FiringsAsync(s))[^1].Firing;
            Assert.Equal((lastMissed.AddMinutes(1), FiringKind.Scheduled), (next.Slot, next.Kind));
            return true;
        });
    }

    [Fact]
    public async Task CatchUpAll_UnderTheCap_StartsEveryMissedSlot()
    {
        var start = await host.FreshStartAsync();
        await WithScheduleAsync(EveryMinute("all", "demo.noop") with { CatchUp = CatchUpPolicy.All, Overlap = OverlapPolicy.Allow }, async s =>
        {
            await host.AdvanceAsync(TimeSpan.FromSeconds(2 * 60 + 10));
            Assert.Equal([start.AddSeconds(30), start.AddSeconds(90)], (await host.FiringsAsync(s)).Select(f => f.Firing.Slot));
            return true;
        });
    }

    [Fact]
    public async Task StartAndEndDates_OnlySlotsInsideTheWindowFire()
    {
        var start = await host.FreshStartAsync();
        var window = (From: start.AddMinutes(2), To: start.AddMinutes(4)); // slots at +2.5 and +3.5 minutes are inside
        await WithScheduleAsync(EveryMinute("window", "demo.noop") with { StartAt = window.From, EndAt = window.To, Overlap = OverlapPolicy.Allow }, async s =>
        {
            Assert.Equal([start.AddSeconds(150), start.AddSeconds(210)], host.Schedules.NextFireTimes((await host.Store.FindAsync(s.Id))!, 5));
            for (var i = 0; i < 6; i++) await host.AdvanceAsync(Minute);
            Assert.Equal([start.AddSeconds(150), start.AddSeconds(210)], (await host.FiringsAsync(s)).Select(f => f.Firing.Slot));
            Assert.Empty(host.Schedules.NextFireTimes((await host.Store.FindAsync(s.Id))!, 5));
            return true;
        });
    }

    [Fact]
    public async Task Berlin0230Daily_OnTheSpringForwardDay_FiresOnceAtTheEndOfTheGap()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var day = NextDay(host.Clock.GetUtcNow(), d => berlin.IsInvalidTime(d.AddHours(2.5)));
        await host.SetAsync(new DateTimeOffset(day.AddDays(-1).AddHours(12), TimeSpan.Zero)); // noon UTC the day before
        var draft = new ScheduleDraft { Name = "berlin-spring-" + Guid.NewGuid().ToString("N")[..6], Cron = "30 2 * * *", TimeZone = "Europe/Berlin", Task = "demo.noop" };
        await WithScheduleAsync(draft, async s =>
        {
            // 02:30 does not exist that night (02:00 CET → 03:00 CEST): Cronos fires at 03:00 CEST = 01:00 UTC.
            var expected = new DateTimeOffset(day.AddHours(1), TimeSpan.Zero);
            Assert.Equal(expected, host.Schedules.NextFireTimes(s, 1)[0]);
            await host.SetAsync(expected.AddSeconds(-1));
            Assert.Empty(await host.FiringsAsync(s));
            await host.SetAsync(expected);
            Assert.Equal(expected, Assert.Single(await host.FiringsAsync(s)).Firing.Slot);
            // The next day is back to 02:30 CEST = 00:30 UTC.
            Assert.Equal(new DateTimeOffset(day.AddDays(1).AddMinutes(30), TimeSpan.Zero), host.Schedules.NextFireTimes((await host.Store.FindAsync(s.Id))!, 1)[0]);
            return true;
        });
    }

    [Fact]
    public async Task Berlin0230Daily_OnTheFallBackDay_FiresOnceAtTheFirst0230()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var day = NextDay(host.Clock.GetUtcNow(), d => berlin.IsAmbiguousTime(d.AddHours(2.5)));
        await host.SetAsync(new DateTimeOffset(day.AddDays(-1).AddHours(12), TimeSpan.Zero));
        var draft = new ScheduleDraft { Name = "berlin-fall-" + Guid.NewGuid().ToString("N")[..6], Cron = "30 2 * * *", TimeZone = "Europe/Berlin", Task = "demo.noop" };
        await WithScheduleAsync(draft, async s =>
        {
            // 02:30 happens twice (CEST, then CET an hour later): the job runs once, at the first, 00:30 UTC.
            var first = new DateTimeOffset(day.AddMinutes(30), TimeSpan.Zero);
            var second = first.AddHours(1);
            Assert.Equal(first, host.Schedules.NextFireTimes(s, 1)[0]);
            await host.SetAsync(first);
            await host.SetAsync(second);
            await host.SetAsync(second.AddHours(3));
            Assert.Equal(first, Assert.Single(await host.FiringsAsync(s)).Firing.Slot);
            Assert.Equal(new DateTimeOffset(day.AddDays(1).AddHours(1).AddMinutes(30), TimeSpan.Zero), // 02:30 CET the next day
                host.Schedules.NextFireTimes((await host.Store.FindAsync(s.Id))!, 1)[0]);
            return true;
        });
    }

    [Fact]
    public async Task Paused_FiresNothing_AndResumeDoesNotCatchUpThePausedSlots()
    {
        var start = await host.FreshStartAsync();
        await WithScheduleAsync(EveryMinute("pause", "demo.noop") with { Overlap = OverlapPolicy.Allow, CatchUp = CatchUpPolicy.All }, async s =>
        {
            await host.Schedules.PauseAsync(s.Id, Taskdeck.Core.Audit.Actor.System);
            await host.AdvanceAsync(TimeSpan.FromMinutes(3));
            Assert.Empty(await host.FiringsAsync(s));
            await host.Schedules.ResumeAsync(s.Id, Taskdeck.Core.Audit.Actor.System);
            await host.AdvanceAsync(Minute);
            Assert.Equal([start.AddMinutes(4).AddSeconds(-30)], (await host.FiringsAsync(s)).Select(f => f.Firing.Slot));
            return true;
        });
    }

    /// <summary>The first whole UTC day after <paramref name="now"/> whose date (as a local wall-clock day) matches.</summary>
    private static DateTime NextDay(DateTimeOffset now, Func<DateTime, bool> matches)
    {
        for (var day = now.UtcDateTime.Date.AddDays(2); ; day = day.AddDays(1))
            if (matches(DateTime.SpecifyKind(day, DateTimeKind.Unspecified))) return DateTime.SpecifyKind(day, DateTimeKind.Utc);
    }
}
