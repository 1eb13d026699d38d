using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Taskdeck.E2E;

/// <summary>
/// The first run as an operator lives it, in Chromium against a real console process on a fresh database with anonymous
/// access off: the one-time link from the log → the first administrator → sign out and in → an Operator user and an API
/// token → the Operator sees only what the role may do → the token works against the API within its scopes → the
/// audit trail names each principal. Saves the sign-in and Audit pages' screenshots (docs/screenshots in the README).
/// </summary>
[Collection(E2ECollection.Name)]
public sealed class SignInFlowTests(BrowserFixture browser) : IAsyncLifetime
{
    private const string AdminPassword = "correct horse battery staple";
    private const string OperatorPassword = "operator passphrase 42";

    private ConsoleProcess _console = default!;
    private IBrowserContext _context = default!;
    private IPage _page = default!;
    private readonly List<string> _cspViolations = [];

    public async Task InitializeAsync()
    {
        _console = await ConsoleProcess.StartAsync();
        _context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = _console.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
        });
        // This console is fresh, not warmed up like the shared one: each page it opens first pays its compilation.
        _context.SetDefaultTimeout(60_000);
        await _context.AddInitScriptAsync("""
            document.addEventListener('securitypolicyviolation', e =>
              console.error(`Content Security Policy violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`));
            """);
        _page = await _context.NewPageAsync();
        _page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
                lock (_cspViolations) _cspViolations.Add($"{_page.Url}: {message.Text}");
        };
    }

    [Fact]
    public async Task FreshStart_SetupLink_Admin_CreatesOperatorAndToken_OperatorSeesOnlyItsRole_TokenKeepsToItsScopes()
    {
        // Nobody is signed in: a page sends the browser to the sign-in page.
        await _page.GotoAsync("/executions");
        await Expect(_page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl="));

        // The one-time link from the log asks for the first administrator and signs them in.
        var link = await _console.SetupLinkAsync();
        await _page.GotoAsync(link.PathAndQuery);
        await Expect(_page.GetByRole(AriaRole.Heading, new() { Name = "Create the first administrator" })).ToBeVisibleAsync();
        await _page.GetByLabel("Name").FillAsync("alice");
        await _page.GetByLabel("Password", new() { Exact = true }).FillAsync(AdminPassword);
        await _page.GetByLabel("Repeat the password").FillAsync(AdminPassword);
        // This console is fresh (not warmed up like the shared one): the first signed-in page it renders pays its
        // compilation, besides the password hash — a longer deadline for this one navigation on a loaded machine.
        await _page.GetByRole(AriaRole.Button, new() { Name = "Create administrator and sign in" }).ClickAsync(new() { Timeout = 90_000 });
        await ExpectSignedInAsync("alice", "Admin");

        // The link is spent: opened again it only offers to sign in.
        await SignOutAsync();
        await _page.GotoAsync(link.PathAndQuery);
        await Expect(_page.GetByRole(AriaRole.Alert)).ToContainTextAsync("already been used");
        await _page.GotoAsync("/login");
        await Expect(_page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await Screenshot("sign-in");

        // A wrong password says so and signs nobody in; the right one does.
        await SignInAsync("alice", "not the password at all");
        await Expect(_page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Wrong name or password");
        await SignInAsync("alice", AdminPassword);
        await ExpectSignedInAsync("alice", "Admin");

        // An Operator user, on /admin/users.
        await OpenAsync("/admin/users");
        await _page.GetByRole(AriaRole.Button, new() { Name = "Add user" }).ClickAsync();
        var dialog = _page.Locator(".mud-dialog");
        // The dialog opens with the cursor in Name, and keeps it there: what a person types at once is the name. (The dialog
        // used to take the focus itself just after, and a value typed into another field meanwhile was once redrawn empty.)
        // Each field is seen holding its value before the next. A field sends its value as it loses the focus, so the press,
        // which takes the focus, reaches the server after both values.
        var name = dialog.GetByLabel("Name");
        await Expect(name).ToBeFocusedAsync();
        await _page.Keyboard.TypeAsync("olivia");
        await Expect(name).ToHaveValueAsync("olivia");
        var password = dialog.GetByLabel("Initial password");
        await password.FillAsync(OperatorPassword);
        await Expect(password).ToHaveValueAsync(OperatorPassword);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Add user" }).ClickAsync();
        var userRow = _page.Locator("tr", new() { Has = _page.Locator("[data-user='olivia']") });
        await Expect(userRow.Locator("[data-role=Operator]")).ToBeVisibleAsync();

        // An API token that may read and submit, on /admin/tokens: its secret is shown once.
        await OpenAsync("/admin/tokens");
        await _page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        // The scope first and the name last, as a person may; the name reaches the server as the press takes the focus.
        await Expect(dialog.GetByLabel("Token name")).ToBeFocusedAsync();
        await dialog.GetByLabel("Scope submit").CheckAsync();
        await dialog.GetByLabel("Token name").FillAsync("nightly-ci");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        var secretBox = dialog.Locator("[data-secret]");
        await Expect(secretBox).ToContainTextAsync("tdk_");
        var secret = (await secretBox.TextContentAsync())!.Trim();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
        await Expect(dialog).ToHaveCountAsync(0);
        await Expect(_page.Locator("tr", new() { Has = _page.Locator("[data-token='nightly-ci']") }).Locator("[data-status=active]")).ToBeVisibleAsync();
        Assert.DoesNotContain(secret, await _page.ContentAsync());
        await SignOutAsync();

        // The Operator: cancel, retry and delete are there; commands, users, tokens and the audit trail are not.
        await SignInAsync("olivia", OperatorPassword);
        await ExpectSignedInAsync("olivia", "Operator");
        await OpenAsync("/executions");
        await Expect(_page.GetByRole(AriaRole.Button, new() { Name = "Cancel selected" })).ToBeVisibleAsync();
        await Expect(_page.GetByRole(AriaRole.Button, new() { Name = "Delete selected" })).ToBeVisibleAsync();
        await Expect(_page.GetByRole(AriaRole.Button, new() { Name = "Reset matching…" })).ToBeVisibleAsync();
        var nav = _page.Locator(".nav-drawer");
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Executions" })).ToBeVisibleAsync();
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Submit" })).ToBeVisibleAsync();
        foreach (var adminOnly in new[] { "Users", "API tokens", "Audit" })
            await Expect(nav.GetByRole(AriaRole.Link, new() { Name = adminOnly })).ToHaveCountAsync(0);
        await OpenAsync("/submit");
        await Expect(_page.GetByRole(AriaRole.Tab, new() { Name = "Handler task" })).ToBeVisibleAsync();
        await Expect(_page.GetByRole(AriaRole.Tab, new() { Name = "DAG" })).ToBeVisibleAsync();
        await Expect(_page.GetByRole(AriaRole.Tab, new() { Name = "Command" })).ToHaveCountAsync(0);
        await Screenshot("operator-submit");
        // The pages behind Admin refuse the Operator even when typed in.
        await _page.GotoAsync("/admin/users");
        await Expect(_page.Locator("[data-user]")).ToHaveCountAsync(0);
        await Expect(_page.GetByText("This page is not open to your role").First).ToBeVisibleAsync();
        await SignOutAsync();
        await Expect(_page.GetByRole(AriaRole.Status)).ToContainTextAsync("You have signed out");
        await _page.GotoAsync("/executions");
        await Expect(_page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl="));

        // The token against the API: it reads and submits, and is refused (403 ProblemDetails) what it lacks the scope for.
        using var api = new HttpClient { BaseAddress = _console.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("/api/executions")).StatusCode);
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/executions")).StatusCode);
        var submitted = await api.PostAsJsonAsync("/api/tasks", new { task = "demo.sleep", args = new { seconds = 30 } });
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var id = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt64();
        var cancel = await api.PostAsync($"/api/executions/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.Forbidden, cancel.StatusCode);
        Assert.Equal("application/problem+json", cancel.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await cancel.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(403, problem.GetProperty("status").GetInt32());
        var command = await api.PostAsJsonAsync("/api/tasks", new { command = new[] { "/bin/true" } });
        Assert.Equal(HttpStatusCode.Forbidden, command.StatusCode);
        Assert.Contains("commands", await command.Content.ReadAsStringAsync());

        // Back as the administrator: the audit trail names who did each of it, people and the token.
        await SignInAsync("alice", AdminPassword);
        await ExpectSignedInAsync("alice", "Admin");
        await OpenAsync("/audit");
        await Expect(_page.Locator("tbody tr.mud-table-row [data-actor='token:nightly-ci']").First).ToBeVisibleAsync();
        await Expect(_page.Locator("tbody tr.mud-table-row", new() { Has = _page.Locator("[data-actor='olivia']") })
            .Filter(new() { Has = _page.Locator("[data-action='auth.sign-in']") }).First).ToBeVisibleAsync();
        await Expect(_page.Locator("tbody tr.mud-table-row", new() { Has = _page.Locator("[data-actor='alice']") })
            .Filter(new() { Has = _page.Locator("[data-action='token.create']") })).ToHaveCountAsync(1);
        await Expect(_page.Locator("tbody tr.mud-table-row", new() { Has = _page.Locator("[data-actor='alice']") })
            .Filter(new() { Has = _page.Locator("[data-action='user.create']") }).Filter(new() { HasText = "olivia" })).ToHaveCountAsync(1);
        // Users and tokens are named as text, not struck through as if deleted.
        await Expect(_page.Locator(".record.gone")).ToHaveCountAsync(0);
        await Screenshot("audit-signed-in");

        Assert.Contains("/login?setup=", _console.Output);
        lock (_cspViolations) Assert.True(_cspViolations.Count == 0, "Content-Security-Policy violations:\n" + string.Join("\n", _cspViolations));
    }

    private async Task OpenAsync(string path)
    {
        await _page.GotoAsync(path);
        await Expect(_page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
    }

    private async Task SignInAsync(string name, string password)
    {
        await _page.GotoAsync("/login");
        await _page.GetByLabel("Name").FillAsync(name);
        await _page.GetByLabel("Password", new() { Exact = true }).FillAsync(password);
        await _page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    private async Task ExpectSignedInAsync(string name, string role)
    {
        await Expect(_page.GetByLabel($"Signed in as {name} ({role})")).ToBeVisibleAsync();
        await Expect(_page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
    }

    private async Task SignOutAsync()
    {
        await _page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(_page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?signedOut=1"));
    }

    private Task Screenshot(string name) =>
        _page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ConsoleTest.ScreenshotDir, name + ".png") });

    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.DisposeAsync();
        if (_console is not null) await _console.DisposeAsync();
    }
}
