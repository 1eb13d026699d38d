using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

[Collection(E2ECollection.Name)]
public sealed class ScheduleTests(AppFixture app, BrowserFixture browser) : ConsoleTest(app, browser)
{
    /// <summary>Every firing of the schedule, counted page by page over the API.</summary>
    private async Task<int> FiringCountAsync(string name) => (await FiringsAsync(name)).Count;

    private async Task<List<JsonElement>> FiringsAsync(string name)
    {
        var firings = new List<JsonElement>();
        string? cursor = null;
        do
        {
            using var doc = JsonDocument.Parse(await App.Api.GetStringAsync($"/api/schedules/{name}/firings?limit=200{(cursor is null ? "" : "&cursor=" + cursor)}"));
            firings.AddRange(doc.RootElement.GetProperty("firings").EnumerateArray().Select(f => f.Clone()));
            var next = doc.RootElement.GetProperty("next_cursor");
            cursor = next.ValueKind == JsonValueKind.Number ? next.GetInt64().ToString() : null;
        } while (cursor is not null);
        return firings;
    }

    /// <summary>Waits (with a deadline) until the schedule has fired at least <paramref name="count"/> times.</summary>
    private async Task<int> WaitForFiringsAsync(string name, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var n = await FiringCountAsync(name);
            if (n >= count) return n;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{name} fired {n} times, not {count}, within 60 s");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task CreateInTheConsole_SeeItFire_PauseIt_AndItStopsFiring()
    {
        var name = "e2e-every-second-" + Guid.NewGuid().ToString("N")[..6];
        // A second schedule, made over the API, is the clock of the "it stopped" window: its firings prove the loop
        // went on passing slots while the paused one stayed still.
        var witness = "e2e-witness-" + Guid.NewGuid().ToString("N")[..6];
        (await App.Api.PostAsJsonAsync("/api/schedules", new { name = witness, cron = "* * * * * *", task = "demo.noop" })).EnsureSuccessStatusCode();

        try
        {
            await OpenAsync("/schedules");
            await Page.GetByRole(AriaRole.Link, new() { Name = "New schedule" }).ClickAsync();
            await Expect(Page).ToHaveURLAsync(new Regex("/schedules/new$"));
            // The URL changes before the new page has drawn (the list's search field is also labelled "Name").
            await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "New schedule" })).ToBeVisibleAsync();
            await Page.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
            var cron = Page.GetByLabel("Cron", new() { Exact = true });
            await cron.FillAsync("* * * * * 99");
            await Expect(Page.Locator(".cron-problem")).ToContainTextAsync("is not a valid cron expression");
            await Expect(Page.GetByRole(AriaRole.Button, new() { Name = "Create schedule" })).ToBeDisabledAsync();
            await cron.FillAsync("* * * * * *");
            await Expect(Page.Locator(".cron-words")).ToContainTextAsync("every second");
            await Expect(Page.Locator("tr.fire-time")).ToHaveCountAsync(5);
            await ScreenshotAsync("e2e-schedule-editor");
            await Page.GetByRole(AriaRole.Button, new() { Name = "Create schedule" }).ClickAsync();

            // Its page lists its firings live, each with a link to the run it started.
            await Expect(Page).ToHaveURLAsync(new Regex($"/schedules/{name}$"));
            await Expect(Page.Locator("[data-status=active]")).ToBeVisibleAsync();
            await Expect(Page.Locator("tr.firing-row").Nth(2)).ToBeVisibleAsync();
            await Expect(Page.Locator("tr.firing-row a.run-link").First).ToHaveAttributeAsync("href", new Regex(@"^/executions/\d+$"));
            // Overlap Skip (the default): on a loaded machine a slot may find the previous run still going and be skipped;
            // the firings that started a run link to it, and the older of them has finished.
            var started = Page.Locator("tr.firing-row", new() { Has = Page.Locator("a.run-link") });
            await Expect(started.Nth(1).Locator(".outcome-chip")).ToHaveTextAsync("Succeeded");
            await ScreenshotAsync("e2e-schedule-firing");

            await Page.GetByRole(AriaRole.Button, new() { Name = "Pause", Exact = true }).ClickAsync();
            await Expect(Dialog).ToContainTextAsync($"Pause schedule {name}?");
            await Dialog.GetByRole(AriaRole.Button, new() { Name = "Pause", Exact = true }).ClickAsync();
            await Expect(Page.Locator("[data-status=paused]")).ToBeVisibleAsync();
            await Expect(Page.GetByRole(AriaRole.Button, new() { Name = "Resume", Exact = true })).ToBeVisibleAsync();

            // A slot being fired as the pause landed may still finish: let the witness fire twice, then count.
            await WaitForFiringsAsync(witness, await FiringCountAsync(witness) + 2);
            var paused = await FiringCountAsync(name);
            // Then a window of three more witness slots in which the paused schedule must not fire.
            await WaitForFiringsAsync(witness, await FiringCountAsync(witness) + 3);
            Assert.Equal(paused, await FiringCountAsync(name));
            await Page.ReloadAsync();
            await Expect(Page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
            await Expect(Page.Locator(".firings")).ToHaveAttributeAsync("data-firings", Math.Min(paused, 50).ToString());
            await Expect(Page.Locator(".next-fires")).ToContainTextAsync("Paused: nothing fires until it is resumed.");
            await ScreenshotAsync("e2e-schedule-paused");

            // "Executions it started" is the executions grid filtered by ?schedule=.
            await Page.GetByRole(AriaRole.Link, new() { Name = "Executions it started" }).ClickAsync();
            await Expect(Page).ToHaveURLAsync(new Regex($"/executions\\?schedule={name}$"));
            await Expect(Page.Locator("[data-filter=schedule]")).ToContainTextAsync(name);
            var runs = (await FiringsAsync(name)).Count(f => f.GetProperty("executionId").ValueKind == JsonValueKind.Number);
            await Expect(Page.Locator("[data-total]")).ToHaveAttributeAsync("data-total", runs.ToString());
        }
        finally
        {
            // Every-second schedules left firing would load every later test of the run (a failed delete must not hide
            // the test's own failure).
            foreach (var schedule in new[] { witness, name })
                try { await App.Api.DeleteAsync($"/api/schedules/{schedule}"); } catch (Exception) { }
        }
    }

    [Fact]
    public async Task SchedulesList_ShowsCronInWords_NextFire_LastOutcome_AndDeletesAfterConfirmation()
    {
        var name = "e2e-nightly-" + Guid.NewGuid().ToString("N")[..6];
        (await App.Api.PostAsJsonAsync("/api/schedules", new { name, cron = "30 2 * * *", timeZone = "Europe/Berlin", task = "demo.noop" })).EnsureSuccessStatusCode();
        (await App.Api.PostAsync($"/api/schedules/{name}/trigger", null)).EnsureSuccessStatusCode();

        await OpenAsync($"/schedules?q={name}");
        var row = Page.Locator("tr.schedule-row", new() { HasText = name });
        await Expect(row).ToContainTextAsync("at 02:30, every day");
        await Expect(row).ToContainTextAsync("Europe/Berlin");
        await Expect(row.Locator(".outcome-chip")).ToHaveTextAsync("Succeeded");
        // The next fire is shown in the viewer's time, with its UTC instant on hover.
        await Expect(row.Locator(".local-time").First).ToHaveAttributeAsync("title", new Regex(@"^\d{4}-\d\d-\d\d (00|01):30:00\.000 UTC$"));
        await ScreenshotAsync("e2e-schedules-list");

        await row.GetByRole(AriaRole.Button, new() { Name = $"Delete {name}" }).ClickAsync();
        await Expect(Dialog).ToContainTextAsync("Runs it already started are kept");
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await Expect(row).ToHaveCountAsync(0);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await App.Api.GetAsync($"/api/schedules/{name}")).StatusCode);
    }
}
