using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Taskdeck.Unit.Infrastructure;
using Xunit.Abstractions;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// What one node's API says and does about work another node holds: two real Console processes on one real PostgreSQL
/// database, each acting through its own HTTP API.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class TwoNodeTests(PostgresServer postgres, ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    /// <summary>ClusterProbe's settings with a 60 s lease (the work here runs minutes on a loaded machine) and <c>/bin/sleep</c> allowed.</summary>
    private static Dictionary<string, string> NodeSettings(string connection)
    {
        var settings = ClusterProbe.NodeSettings(connection, expirySeconds: 60);
        settings["Taskdeck:Commands:Enabled"] = "true";
        settings["Taskdeck:Commands:Allow:0"] = "/bin/sleep";
        return settings;
    }

    [Fact]
    public async Task ADagRunRestartedOnB_ReadsRunningOnAsApi_WhileItsTasksRun()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var a = await ConsoleProcess.StartAsync(NodeSettings(connection));
        await using var b = await ConsoleProcess.StartAsync(NodeSettings(connection));

        var submitted = await a.Http.PostAsync("/v1/dagrun", new StringContent("""
            { "tag": "restart-on-b", "tasks": {
                "one": { "job": { "task": "demo.sleep", "args": { "seconds": 120 } } },
                "two": { "job": { "task": "demo.sleep", "args": { "seconds": 120 } } } } }
            """, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, submitted.StatusCode);
        var runId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runID").GetInt64();
        await ClusterProbe.UntilAsync(async () => await RunAsync(a, runId) is { State: "RUNNING" } r && r.Tasks.All(t => t == "RUNNING"), Deadline, "both tasks to run");

        Assert.Equal(HttpStatusCode.OK, (await b.Http.DeleteAsync($"/v1/dagrun/{runId}")).StatusCode);
        await ClusterProbe.UntilAsync(async () => await RunAsync(a, runId) is { State: "KILLED" } r && r.Tasks.All(t => t != "RUNNING"), Deadline, "the kill to stop both tasks");
        // A restart is refused (409) while the kill's bulk act still runs; then accepted.
        await ClusterProbe.UntilAsync(async () => (await b.Http.PatchAsync($"/v1/dagrun/{runId}/state/QUEUED", null)).StatusCode == HttpStatusCode.OK, Deadline, "B to restart the run");
        var restarted = Stopwatch.StartNew();

        await ClusterProbe.UntilAsync(async () => await RunAsync(a, runId) is { State: "RUNNING" } r && r.Tasks.Any(t => t == "RUNNING"), Deadline, "A's API to read the run RUNNING while a task runs");
        output.WriteLine($"DAG run restarted on B read RUNNING (a task running) on A's API {restarted.ElapsedMilliseconds} ms after B answered the restart");
        var run = await RunAsync(a, runId);
        Assert.Equal(["QUEUED", "RUNNING", "KILLED", "QUEUED", "RUNNING"], run.History);
    }

    [Fact]
    public async Task ACancelIssuedOnA_OfAProcessRunningOnB_StopsIt_AndEndsCancelled()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var first = await ConsoleProcess.StartAsync(NodeSettings(connection));
        await using var second = await ConsoleProcess.StartAsync(NodeSettings(connection));

        var id = await first.SubmitAsync(new { command = new[] { "/bin/sleep", "300" } });
        JsonElement detail = default;
        await ClusterProbe.UntilAsync(async () => (detail = await first.Http.GetFromJsonAsync<JsonElement>($"/api/executions/{id}")).GetProperty("taskdeck_state").GetString() == "Running",
            Deadline, "the command to run");
        // B is whichever node took it; the cancel goes through the other one's API.
        var nodeId = detail.GetProperty("node_id").GetString()!;
        var (b, a) = nodeId.Contains($":{first.ProcessId}:", StringComparison.Ordinal) ? (first, second) : (second, first);
        Assert.Contains($":{b.ProcessId}:", nodeId, StringComparison.Ordinal);
        var pid = 0;
        await ClusterProbe.UntilAsync(async () => (pid = ProcessId(await a.Http.GetStringAsync($"/api/executions/{id}/attempts/1/logs/executor"))) > 0, Deadline, "the process id in the executor log");
        Assert.True(Directory.Exists($"/proc/{pid}"), $"process {pid} runs");

        var cancel = Stopwatch.StartNew();
        var answer = await a.Http.PostAsync($"/api/executions/{id}/cancel", null);
        Assert.True(answer.IsSuccessStatusCode, await answer.Content.ReadAsStringAsync());
        await ClusterProbe.UntilAsync(() => Task.FromResult(!Directory.Exists($"/proc/{pid}")), Deadline, $"process {pid} to be gone", TimeSpan.FromMilliseconds(5));
        var gone = cancel.ElapsedMilliseconds;
        await ClusterProbe.UntilAsync(async () => (await a.Http.GetFromJsonAsync<JsonElement>($"/api/executions/{id}")).GetProperty("taskdeck_state").GetString() == "Cancelled",
            Deadline, "the execution to end Cancelled");
        output.WriteLine($"cancel on node A of a process on node B: process gone {gone} ms after the request was sent, Cancelled read on A after {cancel.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task ASpawnedWorkersStartAndProgress_ReportedToNodeA_ReachATaskSocketOnNodeB()
    {
        const string token = "two-node-worker-token";
        var connection = await postgres.CreateDatabaseAsync();
        var settings = NodeSettings(connection);
        settings["Taskdeck:Auth:WorkerToken"] = token;
        // The spawned process only waits: the test reports for it, over node A's work-task API, as its worker would.
        settings["Taskdeck:WorkTasks:Types:waiting:Command:0"] = "/bin/sleep";
        settings["Taskdeck:WorkTasks:Types:waiting:Command:1"] = "300";
        await using var a = await ConsoleProcess.StartAsync(settings);
        await using var b = await ConsoleProcess.StartAsync(settings);
        a.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{b.Port}/ws/tasks"), CancellationToken.None);

        var id = WorkTasks.Api.Id(await WorkTasks.Api.SubmitAsync(a.Http, WorkTasks.Api.Submission("waiting", new JsonObject())));
        // Its process runs (on either node) and its worker has not said anything yet.
        await WorkTasks.Api.WaitForStatusAsync(a.Http, id, Deadline, "spawned");

        using var timeout = new CancellationTokenSource(Deadline);
        var buffer = new byte[64 * 1024];
        var seen = new List<string>();
        async Task<JsonObject> NextOnBAsync(Func<JsonObject, bool> until)
        {
            while (true)
            {
                var task = (await WorkTasks.WorkTaskApiTests.ReceiveAsync(socket, buffer, timeout.Token))["task"]!.AsObject();
                if (WorkTasks.Api.Id(task) != id) continue;
                seen.Add((string)task["status"]!);
                if (until(task)) return task;
            }
        }

        await ReportToAsync(a, id, new JsonObject { ["status"] = "executing", ["attempt"] = 1 });
        await NextOnBAsync(t => (string?)t["status"] == "executing");
        // Before the start only the change feed's queued and spawned can have come; the executing came from A's report.
        Assert.All(seen[..^1], s => Assert.Contains(s, new[] { "queued", "spawned" }));

        await ReportToAsync(a, id, new JsonObject { ["status"] = "executing", ["attempt"] = 1, ["metadata"] = new JsonObject { ["records_processed"] = 500 } });
        var progressed = await NextOnBAsync(t => t["metadata"] is JsonObject);
        Assert.Equal("executing", (string?)progressed["status"]);
        Assert.Equal(500, (int)progressed["metadata"]!["records_processed"]!);
        output.WriteLine($"task_update statuses on node B: {string.Join(", ", seen)}");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    /// <summary>As a worker reports over the work-task API: answered 200 "updated".</summary>
    private static async Task ReportToAsync(ConsoleProcess node, string id, JsonObject report)
    {
        var (status, body) = await WorkTasks.Api.ReportAsync(node.Http, id, report);
        Assert.True(status == 200 && (string?)body["status"] == "updated", $"report {report.ToJsonString()}: {status} {body.ToJsonString()}");
    }

    private sealed record RunView(string State, IReadOnlyList<string> Tasks, IReadOnlyList<string> History);

    private static async Task<RunView> RunAsync(ConsoleProcess node, long runId)
    {
        var run = await node.Http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}");
        var state = (await node.Http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/state")).GetProperty("state").GetString()!;
        return new RunView(state,
            run.GetProperty("taskStates").EnumerateObject().Select(p => p.Value.GetString()!).ToList(),
            run.GetProperty("dagStateChanges").EnumerateArray().Select(c => c.GetProperty("state").GetString()!).ToList());
    }

    private static int ProcessId(string executorLog)
    {
        var at = executorLog.IndexOf("started pid ", StringComparison.Ordinal);
        return at < 0 ? 0 : int.Parse(executorLog[(at + 12)..].Split(':', ' ', '\n')[0], System.Globalization.CultureInfo.InvariantCulture);
    }
}
