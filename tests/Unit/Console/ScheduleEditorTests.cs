using AngleSharp.Dom;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Taskdeck.Console.Components.Schedules;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Unit.Console;

/// <summary>The schedule editor checks the cron expression as it is typed (through Core) and previews the next fire times.</summary>
public sealed class ScheduleEditorTests : MudTestContext
{
    // The Saturday before Europe/Berlin springs forward (29 March 2026, 02:00 → 03:00).
    private static readonly DateTimeOffset Now = new(2026, 3, 28, 12, 0, 0, TimeSpan.Zero);

    public ScheduleEditorTests() => Services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));

    private IRenderedComponent<ScheduleEditor> RenderEditor(ScheduleDraft initial, Action<ScheduleDraft>? onSave = null) =>
        Render<ScheduleEditor>(p => p
            .Add(e => e.Initial, initial)
            .Add(e => e.HandlerNames, ["demo.noop", "demo.sleep"])
            .Add(e => e.SaveLabel, "Create schedule")
            .Add(e => e.OnSave, d => onSave?.Invoke(d)));

    private static IElement CronInput(IRenderedComponent<ScheduleEditor> cut) => cut.Find("input[aria-label=Cron]");

    private static IElement SaveButton(IRenderedComponent<ScheduleEditor> cut) => cut.FindAll("button").Single(b => b.TextContent.Contains("Create schedule"));

    private static IReadOnlyList<string> FireTimeRows(IRenderedComponent<ScheduleEditor> cut) =>
        cut.FindAll("tr.fire-time").Select(r => string.Join(" | ", r.QuerySelectorAll("td").Select(td => td.TextContent.Trim()))).ToList();

    [Fact]
    public void InvalidCron_ShowsCoresReason_ListsNoFireTimes_AndBlocksSaving()
    {
        ScheduleDraft? saved = null;
        var cut = RenderEditor(new ScheduleDraft { Name = "nightly", Cron = "0 2 * * *", TimeZone = "UTC" }, d => saved = d);
        cut.WaitForAssertion(() => Assert.Equal(5, FireTimeRows(cut).Count));

        CronInput(cut).Input("61 2 * * *");

        cut.WaitForAssertion(() => Assert.Contains("\"61 2 * * *\" is not a valid cron expression", cut.Markup));
        Assert.Empty(FireTimeRows(cut));
        Assert.NotEmpty(cut.FindAll(".cron-problem"));
        Assert.True(SaveButton(cut).HasAttribute("disabled"));
        SaveButton(cut).Click();
        Assert.Null(saved);
    }

    [Fact]
    public void CronWithTheWrongNumberOfFields_SaysHowManyItHas_AndWhatToWrite()
    {
        var cut = RenderEditor(new ScheduleDraft { Name = "nightly", Cron = "0 2 * * *" });

        CronInput(cut).Input("0 2 * *");

        cut.WaitForAssertion(() => Assert.Contains("has 4 field(s); use 5 (minute hour day month weekday) or 6 (second first)", cut.Markup));
        Assert.Empty(FireTimeRows(cut));
    }

    [Fact]
    public void ValidCron_ListsTheNextFiveFireTimes_InTheScheduleZone_AndInUtc_AcrossTheSpringForwardJump()
    {
        var cut = RenderEditor(new ScheduleDraft { Name = "nightly", Cron = "", TimeZone = "Europe/Berlin" });
        Assert.Empty(FireTimeRows(cut));

        CronInput(cut).Input("30 2 * * *");

        cut.WaitForAssertion(() => Assert.Equal(5, FireTimeRows(cut).Count));
        var rows = FireTimeRows(cut);
        // 02:30 does not exist on 29 March in Berlin: Cronos fires at the end of the gap, 03:00 CEST = 01:00 UTC.
        Assert.Equal("1 | Sun 2026-03-29 03:00:00 | 2026-03-29 01:00:00", rows[0]);
        Assert.Equal("2 | Mon 2026-03-30 02:30:00 | 2026-03-30 00:30:00", rows[1]);
        Assert.Equal("5 | Thu 2026-04-02 02:30:00 | 2026-04-02 00:30:00", rows[4]);
        Assert.Contains("at 02:30, every day", cut.Find(".cron-words").TextContent);
        Assert.Contains("Europe/Berlin", cut.Find(".cron-words").TextContent);
        Assert.False(SaveButton(cut).HasAttribute("disabled"));
    }

    [Fact]
    public void FixingAnInvalidCron_BringsTheFireTimesBack_AndSaveHandsOverTheDraft()
    {
        ScheduleDraft? saved = null;
        var cut = RenderEditor(new ScheduleDraft { Name = "every-second", Cron = "", TimeZone = "UTC" }, d => saved = d);

        CronInput(cut).Input("*/0 * * * * *");
        cut.WaitForAssertion(() => Assert.Contains("is not a valid cron expression", cut.Markup));

        CronInput(cut).Input("*/2 * * * * *");
        cut.WaitForAssertion(() => Assert.Equal(5, FireTimeRows(cut).Count));
        Assert.Equal("1 | Sat 2026-03-28 12:00:02 | 2026-03-28 12:00:02", FireTimeRows(cut)[0]);
        Assert.Contains("every 2 seconds", cut.Find(".cron-words").TextContent);
        Assert.DoesNotContain("is not a valid cron expression", cut.Markup);

        cut.WaitForAssertion(() => Assert.False(SaveButton(cut).HasAttribute("disabled")));
        SaveButton(cut).Click();
        cut.WaitForAssertion(() => Assert.NotNull(saved));
        Assert.Equal("*/2 * * * * *", saved!.Cron);
        Assert.Equal("every-second", saved.Name);
        Assert.Equal(ScheduleTargetKind.Handler, saved.Kind);
        Assert.Equal("demo.noop", saved.Task);
    }

    [Fact]
    public void UnknownTimeZone_IsNamedOnTheZoneField()
    {
        var preview = ScheduleService.PreviewCron("0 2 * * *", "Mars/Olympus", Now, 5);
        Assert.False(preview.Valid);
        Assert.Equal("timeZone", preview.Field);
        Assert.Contains("\"Mars/Olympus\" is not a known time zone", preview.Error);
        Assert.Empty(preview.Next);
    }
}
