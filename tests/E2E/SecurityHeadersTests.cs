using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

/// <summary>
/// The console, the Hangfire dashboard and Swagger UI work in Chromium under the Content-Security-Policy the node sends,
/// with no violation reported; the violation listener itself is shown to catch one.
/// </summary>
[Collection(E2ECollection.Name)]
public sealed class SecurityHeadersTests(AppFixture app, BrowserFixture browser) : ConsoleTest(app, browser)
{
    [Fact]
    public async Task Console_UnderItsContentSecurityPolicy_ConnectsActs_AndReportsNoViolation()
    {
        var id = await App.SubmitAsync("demo.fail", new { message = "csp check" }, ["csp"]);
        await App.WaitForAsync(id, e => AppFixture.State(e) == "Failed");

        var response = await Page.GotoAsync("/executions?tag=csp");
        var headers = await response!.AllHeadersAsync();
        Assert.Contains("script-src 'self' 'nonce-", headers["content-security-policy"]);
        Assert.Contains("frame-ancestors 'none'", headers["content-security-policy"]);
        Assert.Equal("nosniff", headers["x-content-type-options"]);
        Assert.Equal("no-referrer", headers["referrer-policy"]);
        Assert.Equal("DENY", headers["x-frame-options"]);
        await Expect(Page.Locator("[data-interactive=true]")).ToBeAttachedAsync();

        await Expect(Page.Locator("tbody .state-chip").First).ToBeVisibleAsync();

        // The circuit works under the policy: MudBlazor's dialog opens, and the retry goes through the live connection.
        await OpenAsync($"/executions/{id}");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        // The snackbar first: it shows for some 6 s, and the second attempt may take longer than that on a loaded machine.
        await Expect(Page.Locator(".mud-snackbar")).ToBeVisibleAsync();
        await App.WaitForAsync(id, e => e.GetProperty("attempt_number").GetInt32() >= 2);
        await ScreenshotAsync("csp-console");
        Assert.Empty(CspViolations);
    }

    [Fact]
    public async Task HangfireDashboard_AndSwaggerUi_RenderUnderThePolicy_WithNoViolation()
    {
        await Page.GotoAsync("/hangfire");
        await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync();
        // Hangfire's scripts ran: Chart.js took over the realtime canvas (it adds its class).
        await Expect(Page.Locator("canvas#realtimeGraph.chartjs-render-monitor")).ToBeAttachedAsync();
        await Page.GotoAsync("/hangfire/servers");
        await Expect(Page.Locator("table")).ToBeVisibleAsync();
        await ScreenshotAsync("csp-hangfire");

        await Page.GotoAsync("/api/docs/index.html");
        await Expect(Page.Locator(".opblock").First).ToBeVisibleAsync();
        await ScreenshotAsync("csp-swagger");
        Assert.Empty(CspViolations);
    }

    [Fact]
    public async Task InjectedInlineScript_IsBlocked_AndReported()
    {
        await Page.GotoAsync("/workers");
        await Expect(Page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
        // What an injection would do: add an inline script without the response's nonce. It must not run.
        await Page.EvaluateAsync("""
            () => { const s = document.createElement('script'); s.textContent = 'window.__injected = true'; document.body.appendChild(s); }
            """);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (CspViolations.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.False(await Page.EvaluateAsync<bool>("() => window.__injected === true"));
        Assert.Contains(CspViolations, v => v.Contains("script-src", StringComparison.Ordinal));
        ForgetCspViolations();
    }
}
