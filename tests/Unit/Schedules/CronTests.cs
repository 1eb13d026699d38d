using Taskdeck.Core.Schedules;

namespace Taskdeck.Unit.Schedules;

/// <summary>Cron parsing, describing and slot arithmetic, without a host.</summary>
public sealed class CronTests
{
    [Theory]
    [InlineData("0 2 * * *", "at 02:00, every day")]
    [InlineData("30 2 * * *", "at 02:30, every day")]
    [InlineData("* * * * *", "every minute")]
    [InlineData("*/5 * * * *", "every 5 minutes")]
    [InlineData("* * * * * *", "every second")]
    [InlineData("*/10 * * * * *", "every 10 seconds")]
    [InlineData("0 * * * *", "every hour, on the hour")]
    [InlineData("15 */2 * * *", "every 2 hours, at minute 15")]
    [InlineData("0 9 * * 1-5", "at 09:00, on Monday through Friday")]
    [InlineData("0 8,17 * * *", "at 08:00 and 17:00, every day")]
    [InlineData("0 0 1 * *", "at 00:00, on day 1 of the month")]
    [InlineData("0 6 * 1 MON", "at 06:00, on Monday, in January")]
    [InlineData("*/15 9-17 * * *", "every 15 minutes, between hours 9 through 17")]
    [InlineData("@daily", "at 00:00, every day")]
    public void Describe_SaysTheCronInWords(string cron, string words) => Assert.Equal(words, CronDescriber.Describe(cron));

    [Theory]
    [InlineData("", "cron", "required")]
    [InlineData("* * *", "cron", "3 field(s)")]
    [InlineData("61 * * * *", "cron", "not a valid cron expression")]
    [InlineData("* * * * * * *", "cron", "7 field(s)")]
    public void Parse_InvalidCron_NamesTheFieldAndTheReason(string cron, string field, string reason)
    {
        var e = Assert.Throws<ScheduleDefinitionException>(() => CronSchedule.Parse(cron, "UTC"));
        Assert.Equal(field, e.Field);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Parse_UnknownTimeZone_NamesTimeZone()
    {
        var e = Assert.Throws<ScheduleDefinitionException>(() => CronSchedule.Parse("0 2 * * *", "Mars/Olympus_Mons"));
        Assert.Equal("timeZone", e.Field);
    }

    [Fact]
    public void SixFields_CountSeconds_FiveFieldsDoNot()
    {
        var at = new DateTimeOffset(2026, 5, 1, 10, 0, 0, TimeSpan.Zero);
        Assert.Equal(at.AddSeconds(10), CronSchedule.Parse("*/10 * * * * *", null).Next(at));
        Assert.Equal(at.AddMinutes(1), CronSchedule.Parse("* * * * *", null).Next(at));
    }

    [Fact]
    public void Descending_InASpringForwardGap_GivesTheSameInstantAsNext()
    {
        var cron = CronSchedule.Parse("30 2 * * *", "Europe/Berlin");
        var before = new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.Zero);
        var gapSlot = cron.Next(before)!.Value;
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 0, 0, TimeSpan.Zero), gapSlot); // 03:00 CEST
        Assert.Equal([gapSlot], cron.Descending(gapSlot.AddMinutes(5), before));
        Assert.Empty(cron.Descending(gapSlot.AddSeconds(-1), before));
    }

    [Fact]
    public void Upcoming_RespectsStartAndEnd()
    {
        var cron = CronSchedule.Parse("0 * * * *", null);
        var now = new DateTimeOffset(2026, 5, 1, 10, 30, 0, TimeSpan.Zero);
        Assert.Equal([now.AddMinutes(90), now.AddMinutes(150)], cron.Upcoming(now, 5, startAt: now.AddHours(1), endAt: now.AddHours(2.5)));
    }
}
