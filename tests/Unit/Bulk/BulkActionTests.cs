using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Engine;
using Taskdeck.Unit.Health;

namespace Taskdeck.Unit.Bulk;

/// <summary>A node of the real app on a given folder (so the next one restarts on the same database), with extra settings.</summary>
public sealed class FolderHost(string folder, IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("ConnectionStrings:Taskdeck", $"Data Source={Path.Combine(folder, "taskdeck.db")}");
        builder.UseSetting("Taskdeck:Demo:Enabled", "false");
        // Acts without signing in; tests/Unit/Auth covers who may do what.
        builder.UseSetting("Taskdeck:Auth:Anonymous", "Admin");
        builder.UseSetting("Taskdeck:Commands:Enabled", "true");
        builder.UseSetting("Taskdeck:Commands:Allow:0", "/bin/sleep");
        builder.UseSetting("Taskdeck:Commands:Allow:1", "/bin/true");
        builder.UseSetting("Taskdeck:Leases:HeartbeatSeconds", "1");
        builder.UseSetting("Taskdeck:Leases:ExpirySeconds", "5");
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
    }

    public async Task<Dictionary<ExecutionState, int>> CountsAsync(long runId)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        return await db.Executions.Where(e => e.DagRunId == runId).GroupBy(e => e.State).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count);
    }
}

/// <summary>
/// Bulk acts at linear cost, off the request: a DAG kill of 20,000 tasks is answered before its tasks are cancelled
/// (the act is stored first), and a node that takes the act up after a restart cancels every task.
/// </summary>
[Collection(OwnHostCollection.Name)]
public sealed class BigRunKillTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-bulk-" + Guid.NewGuid().ToString("N")[..8]);

    public BigRunKillTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private const int Leaves = 19_999;

    [Fact]
    public async Task KillOf20000TaskRun_IsAnsweredWithWhatItWillDo_AndANodeTakingItUpAfterARestart_CancelsEveryTask()
    {
        long runId;
        await using (var first = new FolderHost(_folder, new Dictionary<string, string?>()))
        {
            var http = first.CreateClient();
            var values = string.Join(",", Enumerable.Range(1, Leaves).Select(i => $"\"{i}\""));
            var spec = $$$"""
                { "tag": "big-kill", "parameters": { "N": [ {{{values}}} ] },
                  "tasks": { "root": { "job": { "command": [ "/bin/sleep", "300" ] }, "children": [ "leaf" ] },
                             "leaf": { "job": { "command": [ "/bin/true", "{{N}}" ] } } } }
                """;
            using var submitted = await http.PostAsync("/v1/dagrun", new StringContent(spec, Encoding.UTF8, "application/json"));
            Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync());
            runId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runID").GetInt64();
            Assert.Equal(Leaves + 1, (await first.CountsAsync(runId)).Values.Sum());
        }

        // A node that runs no work (Roles: Console) accepts the kill: the run is KILLED and the act stored, nothing more.
        await using (var console = new FolderHost(_folder, new Dictionary<string, string?> { ["Taskdeck:Node:Roles"] = "Console" }))
        {
            var http = console.CreateClient();
            using var kill = await http.DeleteAsync($"/v1/dagrun/{runId}");
            Assert.Equal(HttpStatusCode.OK, kill.StatusCode);
            var answer = await kill.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(runId, answer.GetProperty("runID").GetInt64());
            Assert.Equal(Leaves + 1, answer.GetProperty("tasks").GetInt32());
            Assert.False(answer.GetProperty("done").GetBoolean());
            Assert.Equal("KILLED", (await http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/state")).GetProperty("state").GetString());
            Assert.Equal(0, (await console.CountsAsync(runId)).GetValueOrDefault(ExecutionState.Cancelled));
        }

        // The next node with workers finds the stored act and carries it through: every task ends Cancelled.
        await using var worker = new FolderHost(_folder, new Dictionary<string, string?>());
        _ = worker.Services;
        var deadline = Stopwatch.StartNew();
        Dictionary<ExecutionState, int> counts;
        while ((counts = await worker.CountsAsync(runId)).GetValueOrDefault(ExecutionState.Cancelled) != Leaves + 1)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(5), $"not every task was cancelled: {string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"))}");
            await Task.Delay(200);
        }
        var http2 = worker.CreateClient();
        var run = await http2.GetFromJsonAsync<JsonElement>($"/v1/dagruns?all=1");
        Assert.Contains(run.EnumerateArray(), r => r.GetProperty("runID").GetInt64() == runId && r.GetProperty("state").GetString() == "KILLED"
            && r.GetProperty("taskCounts").GetProperty("KILLED").GetInt32() == Leaves + 1);
    }
}

/// <summary><c>POST /api/executions/bulk</c>: 202 at once with what it will act on, done in the background, each change by the actor.</summary>
[Collection(EngineCollection.Name)]
public sealed class BulkApiTests(EngineHost host)
{
    private readonly HttpClient _http = host.CreateClient();

    private async Task<JsonElement> WaitDoneAsync(long bulkId)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var action = await _http.GetFromJsonAsync<JsonElement>($"/api/executions/bulk/{bulkId}");
            if (action.GetProperty("status").GetString() == "done") return action;
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), $"bulk action {bulkId} not done: {action}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task BulkCancelByFilter_ThenDeleteByIds_AreAcceptedWithTheirCounts_AndCarriedOut()
    {
        var tag = "bulk" + Guid.NewGuid().ToString("N")[..8];
        var ids = new List<long>();
        for (var i = 0; i < 25; i++)
        {
            using var r = await _http.PostAsJsonAsync("/api/tasks", new { task = "test.count", tags = new[] { tag }, runAt = DateTimeOffset.UtcNow.AddHours(1) });
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
            ids.Add((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());
        }

        using var cancel = await _http.PostAsJsonAsync("/api/executions/bulk", new { action = "cancel", tag });
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var accepted = await cancel.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(25, accepted.GetProperty("total").GetInt32());
        Assert.Equal($"/api/executions/bulk/{accepted.GetProperty("id").GetInt64()}", cancel.Headers.Location?.OriginalString);
        var done = await WaitDoneAsync(accepted.GetProperty("id").GetInt64());
        Assert.Equal(25, done.GetProperty("applied").GetInt32());
        foreach (var id in ids)
        {
            var e = await _http.GetFromJsonAsync<JsonElement>($"/api/executions/{id}");
            Assert.Equal("CANCELLED", e.GetProperty("state").GetString());
            Assert.Contains(e.GetProperty("state_history").EnumerateArray(), h => h.GetProperty("to").GetString() == "Cancelled" && h.GetProperty("by").GetString() == done.GetProperty("by").GetString());
        }

        using var delete = await _http.PostAsJsonAsync("/api/executions/bulk", new { action = "delete", ids = ids.Take(10).Append(987_654_321L) });
        Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        var deleted = await WaitDoneAsync((await delete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());
        Assert.Equal(11, deleted.GetProperty("total").GetInt32());
        Assert.Equal(10, deleted.GetProperty("applied").GetInt32());
        Assert.Equal(1, deleted.GetProperty("skipped").GetInt32());
        foreach (var id in ids.Take(10)) Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"/api/executions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync($"/api/executions/{ids[10]}")).StatusCode);
    }

    [Fact]
    public async Task BulkRequest_WithoutTargets_OrAnUnknownAction_IsA400Problem()
    {
        using var none = await _http.PostAsJsonAsync("/api/executions/bulk", new { action = "cancel" });
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.Equal("ids", (await none.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        using var odd = await _http.PostAsJsonAsync("/api/executions/bulk", new { action = "explode", ids = new[] { 1 } });
        Assert.Equal(HttpStatusCode.BadRequest, odd.StatusCode);
        Assert.Equal("action", (await odd.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/api/executions/bulk/987654321")).StatusCode);
    }
}
