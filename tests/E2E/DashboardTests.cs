using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

[Collection(E2ECollection.Name)]
public sealed class DashboardTests(AppFixture app, BrowserFixture browser) : ConsoleTest(app, browser)
{
    [Fact]
    public async Task Dashboard_DrawsCharts_AndSucceededCardCounts_WhenATaskCompletes()
    {
        // Something finished so every chart has data to draw.
        var first = await App.SubmitAsync("demo.noop");
        await App.WaitForAsync(first, e => AppFixture.State(e) == "Succeeded");

        await OpenAsync("/");
        await Expect(Page.Locator("[data-chart=throughput] svg path").First).ToBeAttachedAsync();
        await Expect(Page.Locator("[data-chart=states] svg path").First).ToBeAttachedAsync();
        await Expect(Page.Locator("[data-chart=durations] svg path").First).ToBeAttachedAsync();
        var card = Page.Locator("[data-card='Succeeded 1 h']");
        var before = int.Parse((await card.InnerTextAsync()).Replace(",", ""));

        var id = await App.SubmitAsync("demo.noop");
        await App.WaitForAsync(id, e => AppFixture.State(e) == "Succeeded");

        // At least ours: on a shared app another test's task may finish too, so the count is not exactly before + 1.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        int now;
        while ((now = int.Parse((await card.InnerTextAsync()).Replace(",", ""))) <= before && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.True(now > before, $"the Succeeded card stayed at {now} (was {before}) after a task succeeded");
        await ScreenshotAsync("e2e-dashboard");
    }

    [Fact]
    public async Task HangfireDashboard_Opens_FromTheDrawer()
    {
        await OpenAsync("/");
        await Page.GetByRole(AriaRole.Link, new() { Name = "Hangfire" }).ClickAsync();
        await Expect(Page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/hangfire"));
        await Expect(Page.GetByText("Taskdeck · Hangfire").First).ToBeVisibleAsync();
        await ScreenshotAsync("e2e-hangfire");
    }
}
