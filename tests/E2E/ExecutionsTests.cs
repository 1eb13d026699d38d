using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Bulk;
using Taskdeck.Data.Storage;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

[Collection(E2ECollection.Name)]
public sealed class ExecutionsTests(AppFixture app, BrowserFixture browser) : ConsoleTest(app, browser)
{
    [Fact]
    public async Task Cancel_OfRunningSleep_FromDetail_ChipReadsCancelled_WithoutReload()
    {
        var id = await App.SubmitAsync("demo.sleep", new { seconds = 60 });
        await App.WaitForAsync(id, e => AppFixture.State(e) == "Running");
        await OpenAsync($"/executions/{id}");
        var chip = Page.Locator(".header-chip .state-chip");
        await Expect(chip).ToHaveTextAsync("Running");

        await Page.GetByRole(AriaRole.Button, new() { Name = "Cancel", Exact = true }).ClickAsync();
        await Expect(Dialog).ToContainTextAsync($"Cancel execution #{id}?");
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel", Exact = true }).ClickAsync();

        await Expect(chip).ToHaveTextAsync("Cancelled");
        await ScreenshotAsync("e2e-cancel-running");
    }

    [Fact]
    public async Task SubmitCommand_PressedEmpty_SaysWhatIsMissing_ThenAnEcho_RunsToSuccess_WithItsOutput()
    {
        await OpenAsync("/submit");
        await Page.GetByRole(AriaRole.Tab, new() { Name = "Command" }).ClickAsync();
        var submit = Page.GetByRole(AriaRole.Button, new() { Name = "Submit command" });
        await submit.ClickAsync();
        await Expect(Page.GetByText("The command is empty: its first argument is the executable's absolute path.")).ToBeVisibleAsync();
        await ScreenshotAsync("e2e-submit-command-empty");

        await Page.GetByRole(AriaRole.Textbox, new() { Name = "Command", Exact = true }).FillAsync("/bin/echo\nhello from the submit page");
        await Expect(Page.GetByText("The command is empty: its first argument is the executable's absolute path.")).ToHaveCountAsync(0);
        await submit.ClickAsync();

        await Expect(Page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"/executions/\d+$"));
        await Expect(Page.Locator(".header-chip .state-chip")).ToHaveTextAsync("Succeeded");
        await Expect(Page.Locator("pre.log-text[data-stream='Output']")).ToContainTextAsync("hello from the submit page");
        await Expect(Page.Locator(".log-toolbar")).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"\b1 line\b(?!s)"));
        await ScreenshotAsync("e2e-submit-command");
    }

    [Fact]
    public async Task Retry_OfFailedTask_FromDetail_ShowsSecondAttempt()
    {
        var id = await App.SubmitAsync("demo.fail", new { message = "fails on purpose" });
        await App.WaitForAsync(id, e => AppFixture.State(e) == "Failed");
        await OpenAsync($"/executions/{id}");
        await Expect(Page.Locator("[data-attempt='1']")).ToBeVisibleAsync();
        await Expect(Page.Locator("[data-attempt='2']")).ToHaveCountAsync(0);

        await Page.GetByRole(AriaRole.Button, new() { Name = "Retry", Exact = true }).ClickAsync();
        await Expect(Dialog).ToContainTextAsync($"Retry execution #{id}?");
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Retry", Exact = true }).ClickAsync();
        await Expect(Dialog).ToHaveCountAsync(0);

        await Expect(Page.Locator("[data-attempt='2']")).ToBeVisibleAsync();
        await Expect(Page.Locator("[data-attempt='2']")).ToContainTextAsync("Attempt 2");
        await ScreenshotAsync("e2e-retry-failed");
    }

    [Fact]
    public async Task BulkRetry_OfThreeSelectedFailedRows_QueuesAllThree()
    {
        var tag = "bulk-" + Guid.NewGuid().ToString("N")[..6];
        var ids = new List<long>();
        for (var i = 0; i < 3; i++) ids.Add(await App.SubmitAsync("demo.fail", new { message = "bulk failure" }, [tag]));
        foreach (var id in ids) await App.WaitForAsync(id, e => AppFixture.State(e) == "Failed");

        await OpenAsync($"/executions?tag={tag}&state=Failed");
        var rows = Page.Locator("tbody tr.mud-table-row", new() { Has = Page.Locator(".state-chip") });
        await Expect(rows).ToHaveCountAsync(3);
        foreach (var id in ids)
        {
            var row = Page.Locator("tbody tr.mud-table-row", new() { Has = Page.GetByRole(AriaRole.Link, new() { Name = $"#{id}", Exact = true }) });
            await row.Locator("input[type=checkbox]").CheckAsync();
        }
        await Expect(Page.GetByText("3 selected")).ToBeVisibleAsync();

        await Page.GetByRole(AriaRole.Button, new() { Name = "Retry selected" }).ClickAsync();
        await Expect(Dialog).ToContainTextAsync("Retry 3 executions");
        await ScreenshotAsync("e2e-bulk-retry-confirm");
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Retry 3" }).ClickAsync();

        await Expect(Page.GetByText("Retry: 3 of 3 done.")).ToBeVisibleAsync();
        // Each went back to the queue: a second attempt was opened for every one of them.
        foreach (var id in ids) await App.WaitForAsync(id, e => e.GetProperty("attempt_number").GetInt32() >= 2);
        await ScreenshotAsync("e2e-bulk-retry-done");

        // It went the way of POST /api/executions/bulk: one stored act naming the three, as the console's actor.
        var act = await StoredActAsync(BulkActionKind.Retry, a => a.IdsJson == JsonSerializer.Serialize(ids.Order().ToList()));
        Assert.Equal(("anonymous", ActorKind.Anonymous), (act.ActorName, act.ActorKind));
        Assert.Equal((3, 3, true), (act.Total, act.Applied, act.Finished));
    }

    /// <summary>The grid's paging and sorting are the console's own (issue 15): a real browser clicks through them.</summary>
    [Fact]
    public async Task Grid_PagesThroughTheRows_SortsByAColumn_AndShowsMoreRowsPerPage()
    {
        var tag = "paged-" + Guid.NewGuid().ToString("N")[..6];
        var ids = new List<long>();
        for (var i = 0; i < 30; i++) ids.Add(await App.SubmitAsync("demo.noop", new { }, [tag]));

        await OpenAsync($"/executions?tag={tag}");
        var rows = Page.Locator("tbody tr.mud-table-row", new() { Has = Page.Locator(".state-chip") });
        var pageInfo = Page.Locator(".page-info");
        await Expect(rows).ToHaveCountAsync(25);
        await Expect(pageInfo).ToHaveTextAsync("1-25 of 30");
        await Expect(rows.First).ToContainTextAsync($"#{ids.Max()}");

        await Page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Expect(pageInfo).ToHaveTextAsync("26-30 of 30");
        await Expect(rows).ToHaveCountAsync(5);
        await Expect(rows.Last).ToContainTextAsync($"#{ids.Min()}");

        await Page.GetByRole(AriaRole.Button, new() { Name = "First page" }).ClickAsync();
        await Expect(pageInfo).ToHaveTextAsync("1-25 of 30");
        // Newest first; a click on the Id header sorts it the other way.
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sort by Id" }).ClickAsync();
        await Expect(Page.Locator("th[aria-sort=ascending]")).ToHaveTextAsync("Id");
        await Expect(rows.First).ToContainTextAsync($"#{ids.Min()}");

        await Page.Locator(".mud-table-pagination-select").ClickAsync();
        await Page.Locator(".mud-popover-open .mud-list-item", new() { HasText = "50" }).ClickAsync();
        await Expect(pageInfo).ToHaveTextAsync("1-30 of 30");
        await Expect(rows).ToHaveCountAsync(30);
        await pageInfo.ScrollIntoViewIfNeededAsync();
        await ScreenshotAsync("e2e-executions-paged");
    }

    [Fact]
    public async Task ResetMatching_IsOneStoredBulkAct_WithTheFilter_AndTheActor()
    {
        var tag = "reset-" + Guid.NewGuid().ToString("N")[..6];
        var ids = new List<long>();
        for (var i = 0; i < 2; i++) ids.Add(await App.SubmitAsync("demo.fail", new { message = "reset me" }, [tag]));
        foreach (var id in ids) await App.WaitForAsync(id, e => AppFixture.State(e) == "Failed");

        await OpenAsync($"/executions?tag={tag}");
        await Expect(Page.Locator("tbody tr.mud-table-row", new() { Has = Page.Locator(".state-chip") })).ToHaveCountAsync(2);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Reset matching…" }).ClickAsync();
        await Expect(Dialog).ToContainTextAsync("Reset 2 executions?");
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Reset 2" }).ClickAsync();
        await Expect(Page.GetByText("Reset: 2 of 2 done.")).ToBeVisibleAsync();
        foreach (var id in ids) await App.WaitForAsync(id, e => e.GetProperty("attempt_number").GetInt32() >= 2);

        var act = await StoredActAsync(BulkActionKind.Reset, a => a.FilterJson != null && a.FilterJson.Contains(tag));
        Assert.Equal(("anonymous", ActorKind.Anonymous), (act.ActorName, act.ActorKind));
        Assert.Equal((2, 2, true), (act.Total, act.Applied, act.Finished));
        Assert.Null(act.IdsJson);
    }

    private async Task<BulkAction> StoredActAsync(BulkActionKind kind, Func<BulkAction, bool> which)
    {
        await using var db = await App.Services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var acts = (await db.BulkActions.AsNoTracking().Where(a => a.Kind == kind).ToListAsync()).Where(which).ToList();
        return Assert.Single(acts);
    }
}
