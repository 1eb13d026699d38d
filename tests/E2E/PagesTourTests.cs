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
        var run = await DagSeed.DiamondAsync(App.Services, "nightly-etl");
        await DagSeed.WorkTaskAsync(App.Services, "segmentation", "project-atlas", 5, 4, 16384);
        await DagSeed.WorkTaskAsync(App.Services, "inference", "project-atlas", 0, 1, 2048);
        await App.WaitForAsync(running, e => e.GetProperty("progress").ValueKind == System.Text.Json.JsonValueKind.Number);

        var pages = new (string Path, string Name, string Heading, string Ready)[]
        {
            ("/", "page-dashboard", "Dashboard", "[data-chart=throughput] svg path"),
            ("/executions", "page-executions", "Executions", "tbody .state-chip"),
            ($"/executions/{running}", "page-execution-running", "demo.progress", "pre[data-stream=Output]"),
            ($"/executions/{failed}", "page-execution-failed", "demo.fail", "pre[data-stream=Output]"),
            ($"/executions/{echo}", "page-execution-echo", "demo.echo", "pre[data-stream=Output]"),
            ("/dags", "page-dag-runs", "DAG runs", "table"),
            ($"/dags/{run}", "page-dag-run-graph", "nightly-etl", "g.dag-node[data-task=report]"),
            ("/worktasks", "page-work-tasks", "Work tasks", "text=segmentation"),
            ("/workers", "page-workers", "Workers", "[data-node]"),
            ("/submit", "page-submit", "Submit", "textarea"),
        };
        foreach (var (path, name, heading, ready) in pages)
        {
            await OpenAsync(path);
            await Expect(Page.GetByText(heading).First).ToBeVisibleAsync();
            await Expect(Page.Locator(ready).First).ToBeAttachedAsync();
            await Expect(Page.GetByText("Something went wrong")).ToHaveCountAsync(0);
            await Expect(Page.GetByText("Loading")).ToHaveCountAsync(0);
            await ScreenshotAsync(name);
        }
        await OpenAsync("/");
        await Expect(Page.Locator("[data-chart=durations] svg path").First).ToBeAttachedAsync();
        await Page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDir, "page-dashboard-full.png"), FullPage = true });

        // The graph draws the run's five tasks and five edges; the first one ran, so it is green.
        await OpenAsync($"/dags/{run}");
        await Expect(Page.Locator("g.dag-node")).ToHaveCountAsync(5);
        await Expect(Page.Locator("path.dag-edge")).ToHaveCountAsync(5);
        await Expect(Page.Locator("g.dag-node[data-task=extract]")).ToHaveAttributeAsync("data-state", "Succeeded");
        await Page.GetByRole(AriaRole.Tab, new() { Name = "Grid" }).ClickAsync();
        await Expect(Page.Locator(".grid-row")).ToHaveCountAsync(5);
        await ScreenshotAsync("page-dag-run-grid");
    }

    [Fact]
    public async Task DarkMode_Toggle_IsKept_AcrossReloads()
    {
        await OpenAsync("/executions");
        Assert.DoesNotContain("--mud-palette-surface:rgba(28,38,43,1)", Normalize(await (await Page.APIRequest.GetAsync("/executions")).TextAsync()));
        var surface = () => Page.EvaluateAsync<string>("getComputedStyle(document.documentElement).getPropertyValue('--mud-palette-surface').trim()");
        Assert.Equal("rgba(255,255,255,1)", Normalize(await surface()));

        await Page.GetByRole(AriaRole.Button, new() { Name = "Toggle dark mode" }).ClickAsync();
        await WaitForSurfaceAsync("rgba(28,38,43,1)");

        await OpenAsync("/executions");
        await WaitForSurfaceAsync("rgba(28,38,43,1)");
        await ScreenshotAsync("page-executions-dark");
        // The server's first HTML (what shows before the circuit connects) is already dark: no light flash on reload.
        var prerendered = await (await Page.APIRequest.GetAsync("/executions")).TextAsync();
        Assert.Contains("--mud-palette-surface:rgba(28,38,43,1)", Normalize(prerendered));

        // Leave the browser's choice as it was for the other tests (each test has its own context anyway).
        await Page.GetByRole(AriaRole.Button, new() { Name = "Toggle dark mode" }).ClickAsync();
    }

    /// <summary>
    /// The "lost its connection" bar is for a circuit that ended after an error: a page whose stylesheets are still on their
    /// way (a slow link, a busy server: a fresh node's first requests) must not show it, nor announce it as an alert — a
    /// sign-in test on a loaded machine found the bar beside the page's one alert.
    /// </summary>
    [Fact]
    public async Task TheErrorBar_StaysHidden_WhileThePagesStylesheetsAreStillLoading()
    {
        var stylesheetsHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await Page.RouteAsync("**/*.css", async route =>
        {
            stylesheetsHeld.TrySetResult();
            await release.Task;
            await route.ContinueAsync();
        });
        try
        {
            await Page.GotoAsync("/workers", new() { WaitUntil = WaitUntilState.Commit });
            await stylesheetsHeld.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var bar = Page.Locator("#blazor-error-ui");
            await Expect(bar).ToBeAttachedAsync();
            await Expect(bar).ToBeHiddenAsync();
            await Expect(Page.GetByRole(AriaRole.Alert)).ToHaveCountAsync(0);
        }
        finally { release.TrySetResult(); }
        await Expect(Page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
        await Expect(Page.Locator("#blazor-error-ui")).ToBeHiddenAsync();
    }

    private Task WaitForSurfaceAsync(string rgba) => Page.WaitForFunctionAsync(
        "expected => getComputedStyle(document.documentElement).getPropertyValue('--mud-palette-surface').replace(/ /g, '').toLowerCase() === expected", rgba);

    private static string Normalize(string css) => css.Replace(" ", "").ToLowerInvariant();
}
