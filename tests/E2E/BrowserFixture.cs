using Microsoft.Playwright;

namespace Taskdeck.E2E;

/// <summary>
/// One headless Chromium for the collection. The path comes from PLAYWRIGHT_CHROMIUM_PATH, else Debian's
/// /usr/bin/chromium; with neither, Playwright's own downloaded browser is used.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        // Playwright's 5 s default for Expect is a timing window on a loaded 2-core machine (a Blazor circuit can take
        // longer to connect there): the tests wait on conditions, so a generous deadline costs nothing when all is well.
        Assertions.SetDefaultExpectTimeout(30_000);
        var path = Environment.GetEnvironmentVariable("PLAYWRIGHT_CHROMIUM_PATH");
        if (string.IsNullOrWhiteSpace(path) && File.Exists("/usr/bin/chromium")) path = "/usr/bin/chromium";
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            Headless = true,
            ExecutablePath = string.IsNullOrWhiteSpace(path) ? null : path,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class E2ECollection : ICollectionFixture<AppFixture>, ICollectionFixture<BrowserFixture>
{
    public const string Name = "E2E";
}
