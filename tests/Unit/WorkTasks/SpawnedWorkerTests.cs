using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Taskdeck.Data.Executions;
using Xunit.Abstractions;
using System.Text.Json.Nodes;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Unit.WorkTasks;

/// <summary>Spawned workers and admission, on real Kestrel so the workers can call the app back over HTTP.</summary>
[Collection(WorkTaskCollection.Name)]
public sealed class SpawnedWorkerTests(KestrelWorkTaskApp app, ITestOutputHelper output) : IClassFixture<KestrelWorkTaskApp>
{
    [Fact]
    public async Task SpawnedWorker_ReportsExecutingThenCompleted_TaskEndsCompletedWithItsOutput()
    {
        Assert.True(File.Exists("/usr/bin/curl") || File.Exists("/bin/curl"), "the worker script needs curl");
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("scripted", new JsonObject { ["pipeline_id"] = "pipe-1" })));

        var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "completed", "failed", "timeout", "cancelled");
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal($"s3://output/{id}.json", (string?)done["output_location"]);
        Assert.Equal(1000, (int)done["metadata"]!["records_processed"]!);
        Assert.Equal(0, (int)done["retry_count"]!);

        // The worker's own output is the attempt's log; its exit after reporting does not change the outcome.
        var queries = app.Services.GetRequiredService<ExecutionQueries>();
        var executionId = (long)done["execution_id"]!;
        var logs = await WaitForLogAsync(queries, executionId, "is working");
        Assert.Contains($"worker for {id} is working", logs);
        var attempts = await queries.AttemptsAsync(executionId);
        Assert.Equal(ExecutionState.Succeeded, Assert.Single(attempts).Outcome);
    }

    [Fact]
    public async Task ASpawnedWorkersToken_IsItsOwn_ReportsOnlyItsOwnTask_AndIsRefusedOnceItsAttemptEnded()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("stepped", new JsonObject())));
        var other = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission("ml_training")));
        var tokenFile = Path.Combine(app.Folder, $"token-{id}-1");
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!File.Exists(tokenFile))
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException("the worker did not start");
            await Task.Delay(20);
        }
        var token = File.ReadAllText(tokenFile);
        Assert.StartsWith(WorkerAttemptTokens.Prefix, token);
        Assert.NotEqual(WorkTaskApp.Token, token);
        using var worker = app.CreateClient();
        worker.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        // Another task's status: refused, and that task is untouched.
        var before = await client.GetFromJsonAsync<JsonObject>($"/api/worktasks/{other}");
        await AssertForbiddenAsync(await worker.PostAsJsonAsync($"/api/worktasks/{other}", new { worktask_id = other, status = "failed", error_message = "spoofed" }));
        Assert.Equal((string?)before!["status"], (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/worktasks/{other}"))!["status"]);
        // Nor any other route: the queue, a submit.
        await AssertForbiddenAsync(await worker.GetAsync("/api/worktasks"));
        await AssertForbiddenAsync(await worker.PostAsJsonAsync("/api/worktasks", Api.Submission("stepped", new JsonObject())));
        // Its own task, while its attempt runs: yes.
        Assert.Equal(HttpStatusCode.OK, (await worker.GetAsync($"/api/worktasks/{id}")).StatusCode);
        // Stored as a hash only.
        var row = (await app.Services.GetRequiredService<IWorkTaskStore>().FindAsync(id))!.Task;
        Assert.Equal(Taskdeck.Core.Access.SecretTokens.Hash(token), row.WorkerTokenHash);
        Assert.NotEqual(token, row.WorkerTokenHash);

        app.Signal(id, "start-1");
        app.Signal(id, "end-1", "completed");
        var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "completed", "failed", "timeout", "cancelled");
        Assert.Equal("completed", (string?)done["status"]);

        // The attempt is over: its token is dead, even for its own task.
        await AssertForbiddenAsync(await worker.PostAsJsonAsync($"/api/worktasks/{id}", new { worktask_id = id, status = "failed", error_message = "late" }));
        await AssertForbiddenAsync(await worker.GetAsync($"/api/worktasks/{id}"));
        Assert.Equal("completed", (string?)(await client.GetFromJsonAsync<JsonObject>($"/api/worktasks/{id}"))!["status"]);
    }

    private static async Task AssertForbiddenAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{(int)response.StatusCode}: {text}");
        Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("Authorization", (string?)JsonNode.Parse(text)!["field"]);
    }

    [Fact]
    public async Task SpawnedWorker_ExitingWithoutReporting_FailsWithItsOutputKept()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("silent", new JsonObject())));

        var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "completed", "failed", "timeout", "cancelled");
        Assert.Equal("failed", (string?)done["status"]);
        Assert.Contains("without reporting", (string?)done["error_message"]);
        var executionId = (long)done["execution_id"]!;
        var queries = app.Services.GetRequiredService<ExecutionQueries>();
        // Its two streams are read apart and stored as they come: wait for each rather than for one as a sign of both.
        Assert.Contains("something went wrong", await WaitForLogAsync(queries, executionId, "something went wrong"));
        Assert.Contains($"silent worker {id} started and will never report", await WaitForLogAsync(queries, executionId, $"silent worker {id} started"));
        var attempt = Assert.Single(await queries.AttemptsAsync(executionId));
        Assert.Equal(ExecutionState.Failed, attempt.Outcome);
        Assert.Equal(0, attempt.Rc);
    }

    [Fact]
    public async Task SpawnedWorker_ReportingOOMKilled_IsSpawnedAgain_AndCompletesOnItsRetry()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("flaky", new JsonObject())));
        var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "completed", "failed", "timeout", "cancelled");
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, (int)done["retry_count"]!);
        Assert.Equal("s3://output/flaky", (string?)done["output_location"]);
        Assert.Contains("OOMKilled", (string?)done["retry_reason"]);
        var attempts = await app.Services.GetRequiredService<ExecutionQueries>().AttemptsAsync((long)done["execution_id"]!);
        Assert.Equal([ExecutionState.Failed, ExecutionState.Succeeded], attempts.Select(a => a.Outcome));
    }

    [Fact]
    public async Task SpawnedWorker_PastItsTimeout_IsKilled_AndEndsTimeout()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("hang", new JsonObject())));
        var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "completed", "failed", "timeout", "cancelled");
        Assert.Equal("timeout", (string?)done["status"]);
        var attempt = Assert.Single(await app.Services.GetRequiredService<ExecutionQueries>().AttemptsAsync((long)done["execution_id"]!));
        Assert.True(attempt.FinishedAt - attempt.StartedAt < TimeSpan.FromSeconds(30), "the 60 s sleep was not killed");
    }

    [Fact]
    public async Task SpawnedWorker_ReportingProgressAfterItStarted_StillReadsExecuting_WithWhatItReported()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("stepped", new JsonObject())));
        var spawned = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "spawned");
        var executionId = (long)spawned["execution_id"]!;

        app.Signal(id, "start-1");
        await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "executing");

        // The worker itself reports its progress over the status route (a later "executing" with metadata), and is answered.
        app.Signal(id, "progress-1", "loaded 500 of 1000 records");
        Assert.Contains("\"updated\"", await app.ProgressAnswerAsync(id, 1));
        Assert.Equal(ExecutionState.Running, (await app.Services.GetRequiredService<IExecutionReader>().FindAsync(executionId))!.State);

        var task = await Api.GetAsync(client, id);
        Assert.Equal("executing", (string?)task["status"]);
        Assert.Equal("loaded 500 of 1000 records", (string?)task["metadata"]!["progress"]); // what it reported is kept
        Assert.True(await MetricsStatusCountAsync(client, "executing") >= 1, "the metrics count it as executing too");

        app.Signal(id, "end-1", "completed");
        var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "completed", "failed", "timeout", "cancelled");
        Assert.Equal("completed", (string?)done["status"]);
    }

    [Fact]
    public async Task SpawnedWorker_OnItsRetry_ReadsSpawnedUntilTheNewAttemptsWorkerReportsStarted()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("stepped", new JsonObject())));
        await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "spawned");
        app.Signal(id, "start-1");
        await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "executing");

        // Attempt 1 fails transiently; attempt 2's worker is spawned and has not said anything yet.
        app.Signal(id, "end-1", "failed");
        var retried = await WaitForAsync(client, id, t => (int)t["retry_count"]! == 1 && (string?)t["status"] is "spawned" or "executing");
        Assert.Equal("spawned", (string?)retried["status"]);
        Assert.Contains("OOMKilled", (string?)retried["retry_reason"]);
        var record = await app.Services.GetRequiredService<IWorkTaskStore>().FindAsync(id);
        Assert.Equal(2, record!.Execution.AttemptCount);
        Assert.Equal(1, record.Task.WorkerStartedAttempt); // attempt 1's report stays; it just no longer counts

        // A late "started" from attempt 1's worker must not stand for attempt 2's.
        var (status, _) = await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing", ["attempt"] = 1 });
        Assert.Equal(409, status);
        Assert.Equal("spawned", (string?)(await Api.GetAsync(client, id))["status"]);

        app.Signal(id, "start-2");
        await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "executing");
        app.Signal(id, "progress-2", "attempt 2 warming up");
        Assert.Contains("\"updated\"", await app.ProgressAnswerAsync(id, 2));
        Assert.Equal("executing", (string?)(await Api.GetAsync(client, id))["status"]);

        app.Signal(id, "end-2", "completed");
        var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(30), "completed", "failed", "timeout", "cancelled");
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, (int)done["retry_count"]!);
    }

    [Fact]
    public async Task TaskSocket_OverKestrel_ShowsASpawnedWorkerAsQueuedSpawnedExecutingCompleted()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", $"Bearer {WorkTaskApp.Token}");
        var address = new UriBuilder(app.ClientOptions.BaseAddress) { Scheme = "ws", Path = "/ws/tasks" }.Uri;
        var hub = app.Services.GetRequiredService<Taskdeck.Console.WorkTasks.TaskUpdateHub>();
        var before = hub.ClientCount;
        await socket.ConnectAsync(address, CancellationToken.None);
        // The submit below must find this socket subscribed, or its first updates would go to no one.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (hub.ClientCount <= before && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(hub.ClientCount > before, "the socket never joined the hub");

        var id = Api.Id(await Api.SubmitAsync(app.Authorized(), Api.Submission("scripted", new JsonObject())));
        var seen = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[64 * 1024];
        while (!seen.Contains("completed") && !seen.Contains("failed"))
        {
            var message = await WorkTaskApiTests.ReceiveAsync(socket, buffer, timeout.Token);
            if (Api.Id(message["task"]!.AsObject()) == id) seen.Add((string)message["task"]!["status"]!);
        }
        Assert.Equal(["queued", "spawned", "executing", "completed"], seen);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task Admission_OnATwoCoreNode_FourOneCoreTasksNeverRunMoreThanTwoAtOnce()
    {
        var client = app.Authorized();
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
            ids.Add(Api.Id(await Api.SubmitAsync(client, Api.Submission("sleepy", new JsonObject { ["seconds"] = 2 }, cpu: "1"))));

        var executionIds = new List<long>();
        foreach (var id in ids)
        {
            var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(60), "completed", "failed");
            Assert.Equal("completed", (string?)done["status"]);
            executionIds.Add((long)done["execution_id"]!);
        }

        var queries = app.Services.GetRequiredService<ExecutionQueries>();
        var spans = new List<(DateTimeOffset Start, DateTimeOffset Stop)>();
        foreach (var executionId in executionIds)
        {
            var attempt = Assert.Single(await queries.AttemptsAsync(executionId));
            spans.Add((attempt.StartedAt, attempt.FinishedAt!.Value));
        }
        // Sweep over start/stop instants (a stop at the same instant as a start frees its core first).
        var points = spans.SelectMany(s => new[] { (At: s.Start, Delta: 1), (At: s.Stop, Delta: -1) }).OrderBy(p => p.At).ThenBy(p => p.Delta);
        int running = 0, most = 0;
        foreach (var p in points) most = Math.Max(most, running += p.Delta);
        Assert.True(most <= 2, $"{most} ran at once: {string.Join("; ", spans.Select(s => $"{s.Start:HH:mm:ss.fff}–{s.Stop:HH:mm:ss.fff}"))}");
        Assert.Equal(2, most); // and the node's two cores were both used
        // For the record: how soon a freed core was taken by a waiting task (the admission waker's effect).
        var ordered = spans.OrderBy(s => s.Start).ToList();
        var stops = spans.Select(s => s.Stop).Order().ToList();
        for (var i = 2; i < ordered.Count; i++)
            output.WriteLine($"task {i + 1} started {(ordered[i].Start - stops[i - 2]).TotalMilliseconds:0} ms after a core was freed");
    }

    [Fact]
    public async Task Admission_ATaskLargerThanAnyNode_IsRefusedAtSubmit()
    {
        var client = app.Authorized();
        var response = await client.PostAsJsonAsync("/api/worktasks", Api.Submission("sleepy", new JsonObject { ["seconds"] = 1 }, cpu: "3"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("resource_requirements", (string?)problem["field"]);
        Assert.Contains("3 cores", (string?)problem["detail"]);

        var memory = await client.PostAsJsonAsync("/api/worktasks", Api.Submission("sleepy", new JsonObject(), cpu: "1", memory: "8Gi"));
        Assert.Equal(HttpStatusCode.BadRequest, memory.StatusCode);
    }

    private static async Task<JsonObject> WaitForAsync(HttpClient client, string id, Func<JsonObject, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonObject task;
        do
        {
            task = await Api.GetAsync(client, id);
            if (until(task)) return task;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        Assert.Fail($"work task {id} did not get there within 30 s: {task.ToJsonString()}");
        return task;
    }

    private static async Task<int> MetricsStatusCountAsync(HttpClient client, string status)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/metrics");
        request.Headers.Accept.ParseAdd("application/json");
        using var response = await client.SendAsync(request);
        var metrics = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return (int?)metrics["tasks_by_status"]?[status] ?? 0;
    }

    private static async Task<string> WaitForLogAsync(ExecutionQueries queries, long executionId, string expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string text;
        do
        {
            text = string.Concat((await queries.LogsAsync(executionId, null)).Select(l => l.Text));
            if (text.Contains(expected)) return text;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        return text;
    }
}
