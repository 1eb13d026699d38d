using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

[Collection(E2ECollection.Name)]
public sealed class DagRunTests(AppFixture app, BrowserFixture browser) : ConsoleTest(app, browser)
{
    private async Task<long> SubmitDagAsync(string spec)
    {
        var response = await App.Api.PostAsync("/v1/dagrun", new StringContent(spec, System.Text.Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("runID").GetInt64();
    }

    // The join's Pending is certain, not a window: its right parent fails for good, so it stays Pending (blocked) until a
    // restart, whatever the machine's speed. (The old test looked for Pending while a 2 s sleep ran: a loaded machine
    // could finish the sleep before the page drew.)
    [Fact]
    public async Task DagRunGraph_ShowsNodesTurningGreenLive_AndAJoinBlockedByAFailedBranchStaysPending_AndTheRunReadsErrored()
    {
        var runId = await SubmitDagAsync("""
            { "tag": "e2e-diamond", "tasks": {
                "start": { "job": { "task": "demo.sleep", "args": { "seconds": 1 } }, "children": ["left", "right"] },
                "left":  { "job": { "task": "demo.sleep", "args": { "seconds": 0.5 } }, "children": ["join"] },
                "right": { "job": { "task": "demo.fail" }, "maxRetries": 0, "children": ["join"] },
                "join":  { "job": { "task": "demo.echo", "args": { "lines": ["done"] } } } } }
            """);
        await OpenAsync($"/dags/{runId}");
        await Expect(Page.Locator("g.dag-node")).ToHaveCountAsync(4);
        await Expect(Page.Locator("path.dag-edge")).ToHaveCountAsync(4);
        await ScreenshotAsync("e2e-dag-running");

        foreach (var task in new[] { "start", "left" })
            await Expect(Page.Locator($"g.dag-node[data-task={task}]")).ToHaveAttributeAsync("data-state", "Succeeded", new() { Timeout = 30_000 });
        await Expect(Page.Locator("g.dag-node[data-task=right]")).ToHaveAttributeAsync("data-state", "Failed", new() { Timeout = 30_000 });
        await Expect(Page.Locator("g.dag-node[data-task=join]")).ToHaveAttributeAsync("data-state", "Pending");
        // The run's own state is decided after its last task's change was published: the page must still catch it.
        await Expect(Page.Locator("[data-run-state]")).ToHaveAttributeAsync("data-run-state", "Errored");
        await ScreenshotAsync("e2e-dag-completed");
    }

    [Fact]
    public async Task SubmitPage_DagTab_NamesTheTasksOfACycle_ThenSubmitsAFixedSpec_AndOpensTheRun()
    {
        await OpenAsync("/submit");
        await Page.GetByRole(AriaRole.Tab, new() { Name = "DAG" }).ClickAsync();
        var spec = Page.GetByLabel("DAG spec");
        await spec.FillAsync("""
            { "tag": "e2e-form", "tasks": {
                "extract": { "job": { "task": "demo.noop" }, "children": ["load"], "parents": ["load"] },
                "load": { "job": { "task": "demo.noop" } } } }
            """);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Validate" }).ClickAsync();
        await Expect(Page.Locator(".dag-problems")).ToContainTextAsync("cycle");
        await Expect(Page.Locator(".dag-problems")).ToContainTextAsync("extract");
        await Expect(Page.Locator(".dag-problems")).ToContainTextAsync("load");
        await ScreenshotAsync("e2e-submit-dag-problems");

        // Half a surrogate pair parses as JSON but is not text: named, not a failure message.
        await spec.FillAsync("""
            { "tag": "e2e-form", "parameters": { "X": ["\udfff"] }, "tasks": { "extract": { "job": { "task": "demo.noop" } } } }
            """);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Validate" }).ClickAsync();
        await Expect(Page.Locator(".dag-problems")).ToContainTextAsync("parameters.X[0]");
        await Expect(Page.Locator(".dag-problems")).ToContainTextAsync("surrogate");

        await spec.FillAsync("""
            { "tag": "e2e-form", "tasks": {
                "extract": { "job": { "task": "demo.noop" }, "children": ["load"] },
                "load": { "job": { "task": "demo.noop" } } } }
            """);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Validate" }).ClickAsync();
        await Expect(Page.GetByText("The spec is valid.")).ToBeVisibleAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Submit DAG" }).ClickAsync();

        await Expect(Page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"/dags/\d+$"));
        await Expect(Page.Locator("g.dag-node[data-task=load]")).ToHaveAttributeAsync("data-state", "Succeeded", new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task KillTask_FromTheTasksTab_CancelsIt_AndTheRunCanBeRestarted()
    {
        var runId = await SubmitDagAsync("""
            { "tag": "e2e-kill", "tasks": {
                "slow": { "job": { "task": "demo.sleep", "args": { "seconds": 60 } }, "children": ["after"] },
                "after": { "job": { "task": "demo.noop" } } } }
            """);
        await OpenAsync($"/dags/{runId}");
        await Expect(Page.Locator("g.dag-node[data-task=slow]")).ToHaveAttributeAsync("data-state", "Running");

        await Page.GetByRole(AriaRole.Tab, new() { Name = "Tasks" }).ClickAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Kill task slow" }).ClickAsync();
        await Expect(Dialog).ToContainTextAsync("Kill task 'slow'?");
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Kill task" }).ClickAsync();

        await Page.GetByRole(AriaRole.Tab, new() { Name = "Graph" }).ClickAsync();
        await Expect(Page.Locator("g.dag-node[data-task=slow]")).ToHaveAttributeAsync("data-state", "Cancelled");
        await Expect(Page.GetByRole(AriaRole.Button, new() { Name = "Restart" })).ToBeEnabledAsync(new() { Timeout = 15_000 });
        await ScreenshotAsync("e2e-dag-killed-task");

        // And it is restarted: the killed task runs again (a second attempt), the run is running again.
        await Page.GetByRole(AriaRole.Button, new() { Name = "Restart" }).ClickAsync();
        await Expect(Dialog).ToContainTextAsync($"Restart DAG run #{runId}?");
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Restart" }).ClickAsync();
        await Expect(Page.Locator("g.dag-node[data-task=slow]")).ToHaveAttributeAsync("data-state", "Running");
        await Expect(Page.Locator("[data-run-state]")).ToHaveAttributeAsync("data-run-state", "Running");
        var tasks = (await App.Api.GetFromJsonAsync<JsonElement>($"/api/executions?dag_run_id={runId}")).GetProperty("tasks").EnumerateArray();
        Assert.Equal(2, tasks.Single(t => t.GetProperty("dag_task_name").GetString() == "slow").GetProperty("attempt_number").GetInt32());
        await App.Api.DeleteAsync($"/v1/dagrun/{runId}"); // kill it again: nothing left running for 60 s
    }
}
