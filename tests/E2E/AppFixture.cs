using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Taskdeck.E2E;

/// <summary>The real app on Kestrel (a free port), a temp SQLite file, demo workload off; shared by the E2E collection.</summary>
public sealed class AppFixture : WebApplicationFactory<Program>, IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "taskdeck-e2e-" + Guid.NewGuid().ToString("N")[..8]);

    public AppFixture()
    {
        // Must be called here: UseKestrel on a derived factory from WithWebHostBuilder is ignored.
        UseKestrel(0);
    }

    public Uri BaseAddress { get; private set; } = default!;
    public HttpClient Api { get; private set; } = default!;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        Directory.CreateDirectory(_dir);
        builder.UseSetting("ConnectionStrings:Taskdeck", $"Data Source={Path.Combine(_dir, "taskdeck.db")}");
        builder.UseSetting("Taskdeck:Demo:Enabled", "false");
        // The page tests act without signing in; the sign-in flow has tests of its own.
        builder.UseSetting("Taskdeck:Auth:Anonymous", "Admin");
        builder.UseSetting("Taskdeck:Commands:Enabled", "true");
        builder.UseSetting("Taskdeck:Commands:Allow:0", "*");
    }

    public async Task InitializeAsync()
    {
        StartServer();
        BaseAddress = ClientOptions.BaseAddress;
        Api = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        await WarmUpAsync();
    }

    /// <summary>
    /// The pages rendered once before the first test, with a start-up deadline: a page's first render compiles the layout,
    /// MudBlazor's components and the page (seconds on an idle machine), and on two cores shared with the multi-node
    /// tests' processes that alone passed a test's 20 s wait for the page to load.
    /// </summary>
    private async Task WarmUpAsync()
    {
        using var warm = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(3) };
        // The OpenAPI document is generated on its first request, which Swagger UI makes: as slow as a first render.
        foreach (var path in new[] { "/", "/executions", "/dags", "/worktasks", "/workers", "/submit", "/schedules", "/hangfire", "/api/openapi.json" })
            (await warm.GetAsync(path)).EnsureSuccessStatusCode();
        // Detail and editor pages too (what the page says of an id that does not exist yet does not matter: it is compiled).
        foreach (var path in new[] { "/executions/1", "/dags/1", "/schedules/new", "/audit" })
            await warm.GetAsync(path);
    }

    public async Task<long> SubmitAsync(string task, object? args = null, string[]? tags = null)
    {
        var response = await Api.PostAsJsonAsync("/api/tasks", new { task, args, tags });
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("id").GetInt64();
    }

    public async Task<JsonElement> GetExecutionAsync(long id)
    {
        using var doc = JsonDocument.Parse(await Api.GetStringAsync($"/api/executions/{id}"));
        return doc.RootElement.Clone();
    }

    /// <summary>Polls the API until the condition holds, with a deadline (no fixed sleeps).</summary>
    public async Task<JsonElement> WaitForAsync(long id, Func<JsonElement, bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var e = await GetExecutionAsync(id);
            if (condition(e)) return e;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Execution {id} never reached the expected state; last: {e}");
            await Task.Delay(100);
        }
    }

    public static string State(JsonElement e) => e.GetProperty("taskdeck_state").GetString()!;

    async Task IAsyncLifetime.DisposeAsync()
    {
        Api?.Dispose();
        await base.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
