using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

/// <summary>Users and API tokens pages in Chromium (the fixture runs with anonymous Admin access): add, change, create, see the secret once, revoke.</summary>
[Collection(E2ECollection.Name)]
public sealed class AdminPagesTests(AppFixture app, BrowserFixture browser) : ConsoleTest(app, browser)
{
    [Fact]
    public async Task Users_AddAnOperator_ChangeTheRole_AndDelete()
    {
        var name = "olivia-" + Guid.NewGuid().ToString("N")[..4];
        await OpenAsync("/admin/users");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Add user" }).ClickAsync();
        // The dialog opens with the cursor in Name; each field is seen holding its value before the next.
        await Expect(Dialog.GetByLabel("Name")).ToBeFocusedAsync();
        await Dialog.GetByLabel("Name").FillAsync(name);
        await Expect(Dialog.GetByLabel("Name")).ToHaveValueAsync(name);
        await Dialog.GetByLabel("Initial password").FillAsync("correct horse battery");
        await Expect(Dialog.GetByLabel("Initial password")).ToHaveValueAsync("correct horse battery");
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Add user" }).ClickAsync();
        var row = Page.Locator("tr", new() { Has = Page.Locator($"[data-user='{name}']") });
        await Expect(row.Locator("[data-role=Operator]")).ToBeVisibleAsync();
        await Expect(Dialog).ToHaveCountAsync(0);
        await ScreenshotAsync("page-users");

        await row.GetByRole(AriaRole.Button, new() { Name = "Change role" }).ClickAsync();
        await Page.GetByRole(AriaRole.Menuitem, new() { Name = "Viewer" }).ClickAsync();
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Make Viewer" }).ClickAsync();
        await Expect(row.Locator("[data-role=Viewer]")).ToBeVisibleAsync();

        await row.GetByRole(AriaRole.Button, new() { Name = $"Delete {name}" }).ClickAsync();
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Expect(Page.Locator($"[data-user='{name}']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Tokens_Create_ShowsTheSecretOnce_ThenRevoke()
    {
        var name = "nightly-ci-" + Guid.NewGuid().ToString("N")[..4];
        await OpenAsync("/admin/tokens");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        // The cursor starts in the name; the scope first, then the name (it sends each keystroke, and a checkbox's render drawn
        // from a loaded server's state before the name arrived could empty it: see SignInFlowTests).
        await Expect(Dialog.GetByLabel("Token name")).ToBeFocusedAsync();
        await Dialog.GetByLabel("Scope operate").CheckAsync();
        var create = Dialog.GetByRole(AriaRole.Button, new() { Name = "Create token" });
        // Pressed before the form is complete, it says what is missing, at the field.
        await create.ClickAsync();
        await Expect(Dialog).ToContainTextAsync("A token needs a name.");
        await ScreenshotAsync("page-token-name-missing");
        await Dialog.GetByLabel("Token name").FillAsync(name);
        await create.ClickAsync();
        var secret = Dialog.Locator("[data-secret]");
        await Expect(secret).ToContainTextAsync("tdk_");
        var value = (await secret.TextContentAsync())!.Trim();
        await ScreenshotAsync("page-token-created");

        // The secret works as a bearer token, and is not on the page once the dialog is closed.
        using var automation = new HttpClient { BaseAddress = App.BaseAddress };
        automation.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", value);
        Assert.True((await automation.GetAsync("/api/executions")).IsSuccessStatusCode);
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
        var row = Page.Locator("tr", new() { Has = Page.Locator($"[data-token='{name}']") });
        await Expect(row.Locator("[data-scope=operate]")).ToBeVisibleAsync();
        await Expect(row.Locator("[data-status=active]")).ToBeVisibleAsync();
        Assert.DoesNotContain(value, await Page.ContentAsync());
        await Expect(Dialog).ToHaveCountAsync(0);
        await ScreenshotAsync("page-tokens");

        await row.GetByRole(AriaRole.Button, new() { Name = $"Revoke {name}" }).ClickAsync();
        await Dialog.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await Expect(row.Locator("[data-status=revoked]")).ToBeVisibleAsync();
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await automation.GetAsync("/api/executions")).StatusCode);
    }
}
