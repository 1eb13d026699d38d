using Microsoft.Playwright;

namespace Taskdeck.E2E;

/// <summary>
/// Base for console tests: a fresh 1280×800 page per test, waits for the live circuit, saves a screenshot. Every
/// Content-Security-Policy violation the browser reports is collected, and a test that saw one fails when it ends:
/// the console has to work under its policy, not merely render.
/// </summary>
public abstract class ConsoleTest(AppFixture app, BrowserFixture browser) : IAsyncLifetime
{
    protected AppFixture App { get; } = app;
    protected IPage Page { get; private set; } = default!;
    private IBrowserContext? _context;

    public static readonly string ScreenshotDir = FindScreenshotDir();

    public async Task InitializeAsync()
    {
        _context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = App.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            Permissions = ["clipboard-read", "clipboard-write"],
        });
        _context.SetDefaultTimeout(30_000);
        // The DOM's own violation event, reported through the console (init scripts are not subject to the page's CSP).
        await _context.AddInitScriptAsync("""
            document.addEventListener('securitypolicyviolation', e =>
              console.error(`Content Security Policy violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
            """);
        Page = await _context.NewPageAsync();
        Page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
                lock (_cspViolations) _cspViolations.Add($"{Page.Url}: {message.Text}");
            // The browser's side of a failure (a circuit error, an event the server refused) lands in the run's output
            // next to the server's log: a test that failed once is then explained by its log, not guessed at.
            if (message.Type is "error" or "warning") System.Console.WriteLine($"[browser {message.Type}] {Page.Url}: {message.Text}");
        };
        Page.PageError += (_, error) => System.Console.WriteLine($"[browser page error] {Page.Url}: {error}");
    }

    private readonly List<string> _cspViolations = [];

    /// <summary>What the browser reported as blocked by the Content-Security-Policy so far.</summary>
    protected IReadOnlyList<string> CspViolations
    {
        get { lock (_cspViolations) return [.. _cspViolations]; }
    }

    protected void ForgetCspViolations()
    {
        lock (_cspViolations) _cspViolations.Clear();
    }

    /// <summary>Opens a page and waits until the circuit is interactive: clicks on prerendered HTML do nothing.</summary>
    protected async Task OpenAsync(string path)
    {
        await Page.GotoAsync(path);
        await Assertions.Expect(Page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
    }

    protected Task ScreenshotAsync(string name) =>
        Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDir, name + ".png") });

    protected ILocator Dialog => Page.Locator(".mud-dialog");

    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.DisposeAsync();
        Assert.True(CspViolations.Count == 0, "The page reported Content-Security-Policy violations:\n" + string.Join("\n", CspViolations));
    }

    private static string FindScreenshotDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Console.sln"))) dir = dir.Parent;
        var root = dir?.FullName ?? AppContext.BaseDirectory;
        var path = Path.Combine(root, "artifacts", "screenshots");
        Directory.CreateDirectory(path);
        return path;
    }
}
