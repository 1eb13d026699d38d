using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Hangfire;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Health;

/// <summary>
/// Tests that break a part of the node on purpose get an app of their own (one at a time: Hangfire's statics allow one
/// live host), on its own SQLite file, and dispose it afterwards.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OwnHostCollection
{
    public const string Name = "Own app host";
}

public sealed class OwnHost : WebApplicationFactory<Program>
{
    /// <summary>
    /// The Hangfire server the host runs. Hangfire registers its hosted service as transient, so resolving it again would
    /// give a new, idle instance: the one the host started is caught as the host creates it.
    /// </summary>
    public BackgroundJobServerHostedService? HangfireServer { get; private set; }

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "taskdeck-own-" + Guid.NewGuid().ToString("N")[..8]);
    public string DatabasePath => Path.Combine(Folder, "taskdeck.db");

    public OwnHost() => Directory.CreateDirectory(Folder);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("ConnectionStrings:Taskdeck", $"Data Source={DatabasePath}");
        builder.UseSetting("Taskdeck:Demo:Enabled", "false");
        builder.UseSetting("Taskdeck:Auth:Anonymous", "Admin");
        // A slow heartbeat, so a lease row the test makes stale stays stale long enough to be seen.
        builder.UseSetting("Taskdeck:Leases:HeartbeatSeconds", "30");
        builder.UseSetting("Taskdeck:Leases:ExpirySeconds", "90");
        builder.UseSetting("Taskdeck:Health:TimeoutSeconds", "2");
        builder.UseSetting("Taskdeck:Health:MaxWriteQueueLagSeconds", "1");
        builder.ConfigureTestServices(services =>
        {
            for (var i = 0; i < services.Count; i++)
            {
                if (services[i] is not { ServiceType: var type, ImplementationFactory: { } create, Lifetime: var lifetime } || type != typeof(IHostedService)) continue;
                services[i] = ServiceDescriptor.Describe(typeof(IHostedService), sp =>
                {
                    var made = create(sp);
                    if (made is BackgroundJobServerHostedService server) HangfireServer = server;
                    return made;
                }, lifetime);
            }
        });
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[Collection(OwnHostCollection.Name)]
public sealed class HealthTests
{
    /// <summary>Polls a health route until its answer satisfies the condition; fails with the last answer past the deadline.</summary>
    private static async Task<(HttpStatusCode Status, JsonObject Body)> WaitForAsync(HttpClient client, string url,
        Func<HttpStatusCode, JsonObject, bool> condition, string what, Func<Task>? beforeEach = null)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        (HttpStatusCode, JsonObject) last = default;
        while (DateTime.UtcNow < until)
        {
            if (beforeEach is not null) await beforeEach();
            using var response = await client.GetAsync(url);
            last = (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
            if (condition(last.Item1, last.Item2)) return last;
            await Task.Delay(100);
        }
        Assert.Fail($"{url} never showed {what}; last: {(int)last.Item1} {last.Item2?.ToJsonString()}");
        return last;
    }

    private static bool Names(JsonObject body, string check) =>
        body["failing"] is JsonArray failing && failing.Any(f => (string?)f == check) && (string?)body["checks"]![check]!["status"] == "Unhealthy";

    private static Task<(HttpStatusCode, JsonObject)> WaitUntilFailingAsync(HttpClient client, string check, Func<Task>? beforeEach = null) =>
        WaitForAsync(client, "/api/readyz", (status, body) => status == HttpStatusCode.ServiceUnavailable && Names(body, check), $"503 naming {check}", beforeEach);

    private static Task WaitUntilReadyAsync(HttpClient client) =>
        WaitForAsync(client, "/api/readyz", (status, _) => status == HttpStatusCode.OK, "200");

    [Fact]
    public async Task Readyz_OfAWorkingNode_Is200_WithEveryCheckHealthy_AndLivezStaysProcessOnly()
    {
        await using var app = new OwnHost();
        var client = app.CreateClient();
        var (_, ready) = await WaitForAsync(client, "/api/readyz", (s, _) => s == HttpStatusCode.OK, "200");
        Assert.Equal("healthy", (string?)ready["status"]);
        Assert.Equal("ok", (string?)ready["database"]);
        Assert.Empty(ready["failing"]!.AsArray());
        Assert.Equal(["database", "hangfire-server", "lease", "write-queue"], ready["checks"]!.AsObject().Select(c => c.Key).Order(StringComparer.Ordinal));
        Assert.All(ready["checks"]!.AsObject(), c => Assert.Equal("Healthy", (string?)c.Value!["status"]));
        Assert.Equal("""{"status":"healthy"}""", (await client.GetFromJsonAsync<JsonObject>("/health"))!.ToJsonString());
        Assert.Equal("healthy", (string?)(await client.GetFromJsonAsync<JsonObject>("/api/health"))!["status"]);
        Assert.Equal("alive", (string?)(await client.GetFromJsonAsync<JsonObject>("/api/livez"))!["status"]);
    }

    [Fact]
    public async Task HangfireServerStopped_FailsItsCheck_AndReadyzIs503NamingIt_WhileLivezStays200()
    {
        await using var app = new OwnHost();
        var client = app.CreateClient();
        await WaitUntilReadyAsync(client);
        Assert.NotNull(app.HangfireServer);
        await app.HangfireServer.StopAsync(CancellationToken.None);

        var (_, body) = await WaitUntilFailingAsync(client, "hangfire-server");
        Assert.Equal("unhealthy", (string?)body["status"]);
        Assert.Contains("no Hangfire server", (string?)body["checks"]!["hangfire-server"]!["description"]);
        using var work = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, work.StatusCode);
        var health = await client.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("degraded", (string?)(await health.Content.ReadFromJsonAsync<JsonObject>())!["status"]);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/livez")).StatusCode);
    }

    [Fact]
    public async Task LeaseRowMadeStale_FailsTheLeaseCheck_AndReadyzIs503NamingIt()
    {
        await using var app = new OwnHost();
        var client = app.CreateClient();
        await WaitUntilReadyAsync(client);
        var node = app.Get<NodeIdentity>();
        var store = app.Get<ExecutionStore>();
        var stale = DateTimeOffset.UtcNow.AddHours(-1);
        // Written before every probe: the node's own heartbeat (every 30 s here) may renew it in between.
        var (_, body) = await WaitUntilFailingAsync(client, "lease", () => store.HeartbeatAsync(new WorkerNode
        {
            Id = node.Id, HostName = node.HostName, ProcessId = Environment.ProcessId, Roles = "Console,Workers", StartedAt = stale,
            HeartbeatAt = stale, Cores = 1, MemoryMB = 1024, WorkerCount = 1,
        }));
        Assert.Contains("expiry", (string?)body["checks"]!["lease"]!["description"]);
    }

    [Fact]
    public async Task WriteQueueBlocked_FailsTheWriteQueueCheck_AndReadyzIs503NamingIt_ThenRecovers()
    {
        await using var app = new OwnHost();
        var client = app.CreateClient();
        await WaitUntilReadyAsync(client);
        var turn = await app.Get<WriteGate>().EnterAsync(); // the group-commit writer now waits for this gate
        Task write;
        try
        {
            var node = app.Get<NodeIdentity>();
            write = app.Get<ExecutionStore>().HeartbeatAsync(new WorkerNode
            {
                Id = node.Id, HostName = node.HostName, ProcessId = Environment.ProcessId, Roles = "Console,Workers",
                StartedAt = DateTimeOffset.UtcNow, HeartbeatAt = DateTimeOffset.UtcNow, Cores = 1, MemoryMB = 1024, WorkerCount = 1,
            });
            var (_, body) = await WaitUntilFailingAsync(client, "write-queue");
            Assert.Contains("waited", (string?)body["checks"]!["write-queue"]!["description"]);
        }
        finally
        {
            turn.Dispose();
        }
        await write.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilReadyAsync(client);
    }

    [Fact]
    public async Task DatabaseFileMadeReadOnly_FailsTheDatabaseCheck_AndReadyzIs503NamingIt()
    {
        await using var app = new OwnHost();
        var client = app.CreateClient();
        await WaitUntilReadyAsync(client);
        MakeReadOnly(app.DatabasePath, true);
        try
        {
            var (_, body) = await WaitUntilFailingAsync(client, "database");
            Assert.Equal("error", (string?)body["database"]);
            Assert.Contains("write", (string?)body["checks"]!["database"]!["description"]);
        }
        finally
        {
            MakeReadOnly(app.DatabasePath, false);
        }
        await WaitUntilReadyAsync(client);
    }

    /// <summary>
    /// chmod stops everyone but root; root (as in CI containers) needs the immutable attribute, which it alone can set.
    /// Either way a connection opened afterwards can only read.
    /// </summary>
    private static void MakeReadOnly(string path, bool readOnly)
    {
        var (tool, args) = Environment.UserName == "root" ? ("chattr", new[] { readOnly ? "+i" : "-i", path }) : ("chmod", [readOnly ? "a-w" : "u+w", path]);
        using var process = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', args)}: {error}");
    }
}

/// <summary>A reset of everything, on an app of its own: on a shared one it would requeue other tests' failures.</summary>
[Collection(OwnHostCollection.Name)]
public sealed class ResetAllTests
{
    // test_reset_executions (django-ray) resets without a filter; here the empty request needs "all": true (issue 9).
    [Fact]
    public async Task ResetWithAllTrue_RequeuesEveryResettableExecution()
    {
        await using var app = new OwnHost();
        var client = app.CreateClient();
        var ids = new List<long>();
        for (var i = 0; i < 2; i++)
        {
            using var submitted = await client.PostAsJsonAsync("/api/tasks", new { task = "demo.fail" });
            ids.Add((long)(await submitted.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
        }
        var queries = app.Get<Taskdeck.Data.Executions.ExecutionQueries>();
        var until = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < until && (await Task.WhenAll(ids.Select(id => queries.GetDetailAsync(id)))).Any(d => d!.Execution.State != ExecutionState.Failed))
            await Task.Delay(50);

        using var refused = await client.PostAsync("/api/executions/reset", null);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using var reset = await client.PostAsJsonAsync("/api/executions/reset", new { all = true });
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        var body = (await reset.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(2, (int)body["count"]!);
        Assert.Equal("Reset 2 execution(s) to QUEUED state", (string?)body["message"]);
    }
}
