using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.Engine;

/// <summary>A node that is stopped gracefully (SIGTERM, as a service manager does) takes its commands' process groups with it.</summary>
public sealed partial class NodeStopTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-stop-" + Guid.NewGuid().ToString("N")[..8]);
    private ConsoleProcess? _node;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task GracefulStop_OfTheNode_StopsTheGroupOfARunningCommand_AndRequeuesIt()
    {
        _node = await ConsoleProcess.StartAsync(new Dictionary<string, string>
        {
            ["ConnectionStrings:Taskdeck"] = $"Data Source={Path.Combine(_folder, "taskdeck.db")}",
            ["Taskdeck:Commands:Enabled"] = "true",
            ["Taskdeck:Commands:Allow:0"] = "/bin/sh",
        });
        var id = await _node.SubmitAsync(new { command = new[] { "/bin/sh", "-c", "/bin/sleep 300 & /bin/sleep 300" } });

        var leader = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (leader == 0 || ProcessGroupTests.LiveGroup(leader).Count < 2)
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"the command did not start its group in time:\n{_node.Output}");
            await Task.Delay(100);
            using var response = await _node.Http.GetAsync($"/api/executions/{id}/attempts/1/logs/executor");
            if (response.IsSuccessStatusCode && StartedPid().Match(await response.Content.ReadAsStringAsync()) is { Success: true } m)
                leader = int.Parse(m.Groups[1].Value);
        }

        // Within Hangfire's shutdown timeout (kill grace + 5 s) plus the host's own stop.
        await _node.StopGracefullyAsync(TimeSpan.FromSeconds(40));

        Assert.Empty(ProcessGroupTests.LiveGroup(leader));
        await using var db = new SqliteConnection($"Data Source={Path.Combine(_folder, "taskdeck.db")};Mode=ReadOnly;Pooling=False");
        await db.OpenAsync();
        await using var query = db.CreateCommand();
        query.CommandText = "SELECT \"State\" FROM \"Executions\" WHERE \"Id\" = @id";
        query.Parameters.AddWithValue("@id", id);
        // Interrupted by the stop: back in the queue for the next start, its attempt closed.
        Assert.Equal((long)ExecutionState.Queued, Convert.ToInt64(await query.ExecuteScalarAsync()));
    }

    [GeneratedRegex(@"started pid (\d+)")]
    private static partial Regex StartedPid();

    public async Task DisposeAsync()
    {
        if (_node is not null) await _node.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
