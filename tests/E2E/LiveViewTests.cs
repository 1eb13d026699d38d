using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

/// <summary>
/// The executions grid's live behaviour in a real browser: text selected in the grid (the operator reads) holds the
/// updates on an "updates paused" chip until it is clicked; a tab the browser reports hidden takes no updates and catches
/// up when shown.
/// </summary>
[Collection(E2ECollection.Name)]
public sealed partial class LiveViewTests(AppFixture app, BrowserFixture browser) : ConsoleTest(app, browser)
{
    private ILocator Rows => Page.Locator("tbody tr.mud-table-row", new() { Has = Page.Locator(".state-chip") });

    private ILocator RowOf(IPage page, long id) =>
        page.Locator("tbody tr.mud-table-row", new() { Has = page.GetByRole(AriaRole.Link, new() { Name = $"#{id}", Exact = true }) });

    [GeneratedRegex(@"^Updates paused — \d+ changes?$")]
    private static partial Regex HeldChanges();

    [Fact]
    public async Task TextSelectedInTheGrid_HoldsUpdatesOnAPausedChip_ClickingItShowsThem()
    {
        var tag = "read-" + Guid.NewGuid().ToString("N")[..6];
        var first = await App.SubmitAsync("demo.noop", null, [tag]);
        await App.WaitForAsync(first, e => AppFixture.State(e) == "Succeeded");
        await OpenAsync($"/executions?tag={tag}");
        await Expect(Rows).ToHaveCountAsync(1);

        // The operator selects the row's task name to copy it: rows must not move under the selection.
        await RowOf(Page, first).GetByRole(AriaRole.Link, new() { Name = "demo.noop" }).SelectTextAsync();
        var chip = Page.Locator(".paused-chip");
        await Expect(chip).ToHaveTextAsync("Updates paused");

        var second = await App.SubmitAsync("demo.noop", null, [tag]);
        await App.WaitForAsync(second, e => AppFixture.State(e) == "Succeeded");
        await Expect(chip).ToHaveTextAsync(HeldChanges());
        await Expect(Rows).ToHaveCountAsync(1);
        await ScreenshotAsync("e2e-live-paused-chip");

        await chip.ClickAsync();

        await Expect(chip).ToHaveCountAsync(0);
        await Expect(Rows).ToHaveCountAsync(2);
        await Expect(RowOf(Page, second).Locator(".state-chip")).ToHaveTextAsync("Succeeded");
    }

    [Fact]
    public async Task AHiddenTab_TakesNoUpdates_AndCatchesUpWhenShown()
    {
        var tag = "hidden-" + Guid.NewGuid().ToString("N")[..6];
        var first = await App.SubmitAsync("demo.noop", null, [tag]);
        await App.WaitForAsync(first, e => AppFixture.State(e) == "Succeeded");
        await OpenAsync($"/executions?tag={tag}");
        await Expect(Rows).ToHaveCountAsync(1);
        // A second tab on the same filter stays visible: when it shows a change, the shared view has handed it out.
        var other = await Page.Context.NewPageAsync();
        await other.GotoAsync($"/executions?tag={tag}");
        await Expect(other.Locator("[data-interactive=true]")).ToBeAttachedAsync();
        await Expect(other.Locator("tbody tr.mud-table-row .state-chip")).ToHaveCountAsync(1);

        // What the browser does when the tab goes to the background.
        await Page.EvaluateAsync("""
            () => {
              Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
              Object.defineProperty(document, 'hidden', { value: true, configurable: true });
              document.dispatchEvent(new Event('visibilitychange'));
            }
            """);
        // The server has been told before the change happens: a change racing the report would reach the tab rightly.
        await Expect(Page.Locator("html[data-live-hidden=true]")).ToBeAttachedAsync();
        var second = await App.SubmitAsync("demo.noop", null, [tag]);
        await App.WaitForAsync(second, e => AppFixture.State(e) == "Succeeded");
        await Expect(RowOf(other, second).Locator(".state-chip")).ToHaveTextAsync("Succeeded");
        await Expect(Rows).ToHaveCountAsync(1);

        await Page.EvaluateAsync("""
            () => {
              Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
              Object.defineProperty(document, 'hidden', { value: false, configurable: true });
              document.dispatchEvent(new Event('visibilitychange'));
            }
            """);

        await Expect(Rows).ToHaveCountAsync(2);
        await Expect(RowOf(Page, second).Locator(".state-chip")).ToHaveTextAsync("Succeeded");
        await other.CloseAsync();
    }
}
