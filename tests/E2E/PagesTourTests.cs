using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

/// <summary>Every page opens on a live circuit without the error boundary, and leaves a 1280×800 screenshot.</summary>
[Collection(E2ECollection.Name)]
public sealed class PagesTourTests(AppFixture app, BrowserFixture browser) : ConsoleTest(app, browser)
{
    [Fact]
    public async Task EveryPage_Renders_WithoutError_AndIsScreenshotted()
    {
        var running = await App.SubmitAsync("demo.progress", new { steps = 200, delayMs = 500 }, ["tour"]);
        var failed = await App.SubmitAsync("demo.fail", new { message = "a failure to look at" }, ["tour"]);
        var echo = await App.SubmitAsync("demo.echo", new { lines = new[] { "first line", "second line", "third line" } }, ["tour"]);
        await App.WaitForAsync(failed, e => AppFixture.State(e) == "Failed");
        await App.WaitForAsync(echo, e => AppFixture.State(e) == "Succeeded");
        await App.WaitForAsync(running, e => e.GetProperty("progress").ValueKind == System.Text.Json.JsonValueKind.Number);

        var pages = new (string Path, string Name, string Heading)[]
        {
            ("/", "page-dashboard", "Dashboard"),
            ("/executions", "page-executions", "Executions"),
            ($"/executions/{running}", "page-execution-running", "demo.progress"),
            ($"/executions/{failed}", "page-execution-failed", "demo.fail"),
            ($"/executions/{echo}", "page-execution-echo", "demo.echo"),
            ("/dags", "page-dag-runs", "DAG runs"),
            ("/worktasks", "page-work-tasks", "Work tasks"),
            ("/workers", "page-workers", "Workers"),
            ("/submit", "page-submit", "Submit"),
        };
        foreach (var (path, name, heading) in pages)
        {
            await OpenAsync(path);
            await Expect(Page.GetByText(heading).First).ToBeVisibleAsync();
            await Expect(Page.GetByText("Something went wrong")).ToHaveCountAsync(0);
            await Expect(Page.GetByText("Loading")).ToHaveCountAsync(0);
            await ScreenshotAsync(name);
        }
    }
}
