using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.Api;

/// <summary>
/// The real Console, as shipped (its appsettings.json allow-list), in its own process with a server environment that
/// holds a connection string and a worker token: every known way past the command door is refused with a
/// ProblemDetails naming the field and nothing stored, and what does run sees none of the server's environment.
/// </summary>
public sealed class CommandDoorFixture : IAsyncLifetime
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "taskdeck-door-" + Guid.NewGuid().ToString("N")[..8]);
    public string Database => Path.Combine(Folder, "taskdeck.db");
    /// <summary>The one folder commands may name as their working directory here.</summary>
    public string Workspace => Path.Combine(Folder, "workspace");
    public const string WorkerToken = "shared-worker-secret-0123456789";
    public ConsoleProcess Node { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Workspace);
        Node = await ConsoleProcess.StartAsync(new Dictionary<string, string>
        {
            ["ConnectionStrings:Taskdeck"] = $"Data Source={Database}",
            // Added to the shipped list (index 4 and on): a program that prints its environment, not an interpreter.
            ["Taskdeck:Commands:Allow:4"] = "/usr/bin/printenv",
            ["Taskdeck:Commands:WorkingDirectories:0"] = Workspace,
            ["WORKER_AUTH_TOKEN"] = WorkerToken,
        });
    }

    public async Task<long> CountAsync(string table)
    {
        await using var db = new SqliteConnection($"Data Source={Database};Mode=ReadOnly;Pooling=False");
        await db.OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM \"{table}\"";
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

public sealed class CommandDoorTests(CommandDoorFixture fixture) : IClassFixture<CommandDoorFixture>
{
    private HttpClient Http => fixture.Node.Http;

    [Fact]
    public async Task AShell_IsRefused_NamingTheCommand_AndNothingIsStored() =>
        await AssertRefusedAsync(new { command = new[] { "/bin/sh", "-c", "id" } }, "command", "/bin/sh");

    [Fact]
    public async Task Env_IsRefused_NamingTheCommand_AndNothingIsStored() =>
        await AssertRefusedAsync(new { command = new[] { "/usr/bin/env", "id" } }, "command", "/usr/bin/env");

    [Fact]
    public async Task ABareName_IsRefused_EvenWhenItsFileNameIsAllowListed() =>
        await AssertRefusedAsync(new { command = new[] { "echo", "hi" } }, "command", "absolute path");

    [Fact]
    public async Task SettingPath_IsRefused_NamingTheVariable() =>
        await AssertRefusedAsync(new { command = new[] { "/bin/echo" }, environment = new[] { "PATH=/tmp/evil" } }, "environment", "'PATH'");

    [Fact]
    public async Task SettingLdPreload_IsRefused_NamingTheVariable_WhateverItsCase()
    {
        await AssertRefusedAsync(new { command = new[] { "/bin/echo" }, environment = new[] { "LD_PRELOAD=/tmp/evil.so" } }, "environment", "'LD_PRELOAD'");
        await AssertRefusedAsync(new { command = new[] { "/bin/echo" }, environment = new[] { "ld_library_path=/tmp" } }, "environment", "'ld_library_path'");
    }

    [Fact]
    public async Task AWorkingDirectoryOfEtc_IsRefused_NamingWorkingDirectory() =>
        await AssertRefusedAsync(new { command = new[] { "/bin/echo" }, workingDirectory = "/etc" }, "workingDirectory", "/etc");

    [Fact]
    public async Task AWorkingDirectoryThatClimbsOutOfTheAllowedRoot_IsRefused() =>
        await AssertRefusedAsync(new { command = new[] { "/bin/echo" }, workingDirectory = fixture.Workspace + "/../.." }, "workingDirectory", "not under");

    [Fact]
    public async Task ASymlinkToADisallowedBinary_NamedLikeAnAllowedOne_IsRefused()
    {
        var link = Path.Combine(fixture.Folder, "links-" + Guid.NewGuid().ToString("N")[..6], "echo");
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        File.CreateSymbolicLink(link, "/bin/sh");

        await AssertRefusedAsync(new { command = new[] { link, "-c", "id" } }, "command", "not in Taskdeck:Commands:Allow");
    }

    [Fact]
    public async Task ASymlinkToAnAllowedBinary_Runs_InsideTheAllowedWorkingDirectory()
    {
        var link = Path.Combine(fixture.Folder, "links-" + Guid.NewGuid().ToString("N")[..6], "say");
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        File.CreateSymbolicLink(link, "/bin/echo");

        var id = await fixture.Node.SubmitAsync(new { command = new[] { link, "through a link" }, workingDirectory = fixture.Workspace });
        var output = await OutputWhenDoneAsync(id);

        Assert.Contains("through a link", output);
    }

    [Fact]
    public async Task ARunningCommand_SeesAMinimalEnvironment_NotTheServers_AndItsOwnFolderIsRemovedAfterwards()
    {
        var id = await fixture.Node.SubmitAsync(new { command = new[] { "/usr/bin/printenv" }, environment = new[] { "GREETING=hello" } });
        var output = await OutputWhenDoneAsync(id);
        var variables = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..l.IndexOf('=')]).ToHashSet();

        Assert.Contains("GREETING=hello", output);
        Assert.Contains("PATH=/usr/local/bin:/usr/bin:/bin", output);
        Assert.DoesNotContain("ConnectionStrings__Taskdeck", variables);
        Assert.DoesNotContain("WORKER_AUTH_TOKEN", variables);
        Assert.DoesNotContain(CommandDoorFixture.WorkerToken, output);
        Assert.DoesNotContain(fixture.Database, output);
        Assert.Subset(new HashSet<string> { "PATH", "HOME", "LANG", "GREETING", "TASKDECK_ATTEMPT_MARK" }, variables);
        var home = output.Split('\n').Single(l => l.StartsWith("HOME=", StringComparison.Ordinal))["HOME=".Length..];
        Assert.Contains("taskdeck-attempts", home);
        Assert.False(Directory.Exists(home), $"the attempt's folder {home} outlived it");
    }

    [Fact]
    public async Task ACommandTaggedAsASpawnedWorker_GetsNoWorkerToken_AndNoConnectionString()
    {
        var id = await fixture.Node.SubmitAsync(new { command = new[] { "/usr/bin/printenv" }, tags = new[] { "worktask", "worktask:spawned" } });
        var output = await OutputWhenDoneAsync(id);
        var variables = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..l.IndexOf('=')]).ToHashSet();

        Assert.Contains("PATH", variables);
        Assert.DoesNotContain("WORKER_AUTH_TOKEN", variables);
        Assert.DoesNotContain("WORKTASK_ID", variables);
        Assert.DoesNotContain(CommandDoorFixture.WorkerToken, output);
        Assert.DoesNotContain(variables, v => v.StartsWith("ConnectionStrings", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain("Data Source", output);
    }

    [Fact]
    public async Task ADagRunningAShell_IsRefused_AndNoRunIsStored()
    {
        var runs = await fixture.CountAsync("DagRuns");
        using var response = await Http.PostAsJsonAsync("/v1/dagrun", new
        {
            tag = "door", tasks = new Dictionary<string, object> { ["a"] = new { job = new { command = new[] { "/bin/sh", "-c", "id" } } } },
        });
        await AssertProblemAsync(response, "tasks", "/bin/sh");
        Assert.Equal(runs, await fixture.CountAsync("DagRuns"));
    }

    [Fact]
    public async Task ADagSettingLdPreload_IsRefused_NamingTheVariable_AndNoRunIsStored()
    {
        var runs = await fixture.CountAsync("DagRuns");
        using var response = await Http.PostAsJsonAsync("/v1/dagrun", new
        {
            tag = "door", tasks = new Dictionary<string, object> { ["a"] = new { job = new { command = new[] { "/bin/echo" }, environment = new[] { "LD_PRELOAD=/tmp/x.so" } } } },
        });
        await AssertProblemAsync(response, "tasks", "'LD_PRELOAD'");
        Assert.Equal(runs, await fixture.CountAsync("DagRuns"));
    }

    [Fact]
    public async Task ABareNameInTheAllowList_StopsTheStart_NamingTheEntry()
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => ConsoleProcess.StartAsync(new Dictionary<string, string>
        {
            ["ConnectionStrings:Taskdeck"] = $"Data Source={Path.Combine(fixture.Folder, "bare.db")}",
            ["Taskdeck:Commands:Allow:0"] = "echo",
        }));
        Assert.Contains("Taskdeck:Commands:Allow: 'echo' is not an absolute path", failure.Message);
    }

    private async Task AssertRefusedAsync(object body, string field, string detailPart)
    {
        var before = await fixture.CountAsync("Executions");
        using var response = await Http.PostAsJsonAsync("/api/tasks", body);
        await AssertProblemAsync(response, field, detailPart);
        Assert.Equal(before, await fixture.CountAsync("Executions"));
        // Healthy after it.
        Assert.True((await Http.GetAsync("/api/readyz")).IsSuccessStatusCode);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, string field, string detailPart)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString());
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Contains(detailPart, problem.GetProperty("detail").GetString());
    }

    private async Task<string> OutputWhenDoneAsync(long id)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var execution = JsonDocument.Parse(await Http.GetStringAsync($"/api/executions/{id}")).RootElement;
            var state = execution.GetProperty("taskdeck_state").GetString();
            if (state is "Succeeded") break;
            if (state is "Failed" or "Cancelled" or "TimedOut" or "Lost")
                throw new Xunit.Sdk.XunitException($"execution {id} ended {state}: {execution.GetProperty("error_message")}");
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"execution {id} still {state} after 60 s");
            await Task.Delay(100);
        }
        return await Http.GetStringAsync($"/api/executions/{id}/attempts/1/logs/output");
    }
}
