using Microsoft.Playwright;

namespace Taskdeck.E2E;

/// <summary>Base for console tests: a fresh 1280×800 page per test, waits for the live circuit, saves a screenshot.</summary>
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
        _context.SetDefaultTimeout(20_000);
        Page = await _context.NewPageAsync();
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
