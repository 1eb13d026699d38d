using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.TestHost;
using Xunit.Abstractions;
using Taskdeck.Console.WorkTasks;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Unit.WorkTasks;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WorkTaskCollection
{
    public const string Name = "WorkTasks";
}

/// <summary>The seed's routes on the in-memory TestServer, with a worker token configured.</summary>
[Collection(WorkTaskCollection.Name)]
public sealed class WorkTaskApiTests(WorkTaskApiTests.App app, ITestOutputHelper output) : IClassFixture<WorkTaskApiTests.App>
{
    public sealed class App : WorkTaskApp;

    private static readonly string[] SeedFields =
    [
        "worktask_id", "type", "status", "priority", "submitted_at", "started_at", "completed_at", "project_id", "task_spec",
        "resource_requirements", "data_access", "error_message", "kubernetes_job_name", "cluster_name", "retry_count", "max_retries", "retry_reason",
    ];

    // Follows the work-task server's TestWorkTaskSubmission (tests/integration/api_test.go): 201, and the task answers
    // status "queued" (models.WorkTaskStatusQueued), whatever will run it.
    [Theory]
    [InlineData("pipeline_execution")]
    [InlineData("sleepy")]
    public async Task Submit_AnswersStatusQueued_AsTheRealServer(string type)
    {
        var body = type == "sleepy" ? Api.Submission(type, new JsonObject { ["seconds"] = 30 }) : Api.SeedSubmission(type);
        var submitted = await Api.SubmitAsync(app.Authorized(), body);
        Assert.Equal("queued", (string?)submitted["status"]);
        if (type == "sleepy") await Api.ReportAsync(app.Authorized(), Api.Id(submitted), new JsonObject { ["status"] = "cancelled" });
    }

    [Fact]
    public async Task SeedCurlExamples_RoundTrip_SubmitGetListUpdateAndMetrics()
    {
        var client = app.Authorized();

        // Submit (the seed's body): an unbound type is external and waits queued for an outside worker.
        var submitted = await Api.SubmitAsync(client, Api.SeedSubmission());
        foreach (var field in SeedFields.Append("output_location").Append("metadata"))
            Assert.True(submitted.ContainsKey(field), $"missing {field}: {submitted.ToJsonString()}");
        var id = Api.Id(submitted);
        Assert.True(Guid.TryParse(id, out _));
        Assert.Equal("pipeline_execution", (string?)submitted["type"]);
        Assert.Equal("queued", (string?)submitted["status"]);
        Assert.Equal(1, (int)submitted["priority"]!);
        Assert.Equal(3, (int)submitted["max_retries"]!);
        Assert.Equal(0, (int)submitted["retry_count"]!);
        Assert.Equal("proj-123", (string?)submitted["project_id"]);
        Assert.Equal("pipe-456", (string?)submitted["task_spec"]!["pipeline_id"]);
        Assert.Equal("2Gi", (string?)submitted["resource_requirements"]!["memory"]);
        Assert.Equal("creds-secret", (string?)submitted["data_access"]!["storage_credentials"]);
        Assert.EndsWith("Z", (string)submitted["submitted_at"]!);
        Assert.True(DateTimeOffset.TryParse((string)submitted["submitted_at"]!, out _));
        Assert.Null(submitted["completed_at"]);

        // Get and list.
        var fetched = await Api.GetAsync(client, id);
        Assert.Equal(id, Api.Id(fetched));
        var list = await client.GetFromJsonAsync<JsonObject>("/api/worktasks");
        Assert.True((int)list!["queue_length"]! >= 1, list.ToJsonString());

        // Status update exactly as the seed's curl (completed straight from waiting: the attempt opens and closes).
        var (status, body) = await Api.ReportAsync(client, id, new JsonObject
        {
            ["worktask_id"] = id, ["status"] = "completed", ["output_location"] = "s3://output/result.json",
            ["metadata"] = new JsonObject { ["records_processed"] = 1000 },
        });
        Assert.Equal(200, status);
        Assert.Equal("updated", (string?)body["status"]);
        var completed = await Api.GetAsync(client, id);
        Assert.Equal("completed", (string?)completed["status"]);
        Assert.Equal("s3://output/result.json", (string?)completed["output_location"]);
        Assert.Equal(1000, (int)completed["metadata"]!["records_processed"]!);
        Assert.NotNull(completed["started_at"]);
        Assert.True(DateTimeOffset.Parse((string)completed["completed_at"]!) >= DateTimeOffset.Parse((string)completed["started_at"]!));

        // Metrics as JSON: the seed's keys.
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/metrics");
        request.Headers.Accept.ParseAdd("application/json");
        var metricsResponse = await app.CreateClient().SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, metricsResponse.StatusCode);
        var metrics = JsonNode.Parse(await metricsResponse.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(["queue", "tasks_by_status", "tasks_by_type", "timestamp"], metrics.Select(p => p.Key).Order().ToArray());
        Assert.True(metrics["queue"]!.AsObject().ContainsKey("length"));
        Assert.True((int)metrics["tasks_by_status"]!["completed"]! >= 1);
        Assert.True((int)metrics["tasks_by_type"]!["pipeline_execution"]! >= 1);
        Assert.All(metrics["tasks_by_status"]!.AsObject(), p => Assert.Contains(p.Key, new[] { "queued", "scheduled", "spawned", "executing", "completed", "failed", "timeout", "cancelled" }));
        Assert.True(DateTimeOffset.TryParse((string)metrics["timestamp"]!, out _));
    }

    public static TheoryData<string, string, string?> EveryRoute() => new()
    {
        { "GET", "/api/worktasks", null },
        { "POST", "/api/worktasks", RefusedSubmission().ToJsonString() },
        { "GET", "/api/worktasks/task-123", null },
        { "POST", "/api/worktasks/task-123", """{"worktask_id":"task-123","status":"completed"}""" },
    };

    [Theory]
    [MemberData(nameof(EveryRoute))]
    public async Task EveryWorkTaskRoute_WithoutTheToken_Is401ProblemDetails(string method, string path, string? body)
    {
        foreach (var authorization in new string?[] { null, "Bearer wrong-token", $"Basic {WorkTaskApp.Token}", "Bearer " })
        {
            var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
            var response = await app.CreateClient().SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(401, (int)problem["status"]!);
        }
        // Nothing was submitted by the refused POSTs: no task of their project exists (they would have been 201 without auth).
        var (_, stored) = await app.Services.GetRequiredService<Taskdeck.Data.WorkTasks.WorkTaskQueries>()
            .PageAsync(new Taskdeck.Data.WorkTasks.WorkTaskFilter(null, RefusedProject, null), 0, 10);
        Assert.Equal(0, stored);
    }

    private const string RefusedProject = "refused-without-a-token";

    private static JsonObject RefusedSubmission()
    {
        var body = Api.SeedSubmission();
        body["project_id"] = RefusedProject;
        return body;
    }

    [Fact]
    public async Task TaskSocket_WithoutTheToken_IsRefused_AndAcceptsTheAccessTokenQuery()
    {
        var ws = app.Server.CreateWebSocketClient();
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => ws.ConnectAsync(new Uri(app.Server.BaseAddress, "/ws/tasks"), CancellationToken.None));
        Assert.Contains("401", refused.Message);
        var wrong = await Assert.ThrowsAnyAsync<Exception>(() => ws.ConnectAsync(new Uri(app.Server.BaseAddress, "/ws/tasks?access_token=nope"), CancellationToken.None));
        Assert.Contains("401", wrong.Message);
        using var socket = await ws.ConnectAsync(new Uri(app.Server.BaseAddress, $"/ws/tasks?access_token={WorkTaskApp.Token}"), CancellationToken.None);
        Assert.Equal(WebSocketState.Open, socket.State);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task TaskSocket_ClientSeesQueuedThenExecutingThenCompleted_InOrder()
    {
        using var socket = (await ConnectTaskSocketAsync()).Socket;

        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("sleepy", new JsonObject { ["seconds"] = 0.3 })));

        var seen = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[64 * 1024];
        while (!seen.Contains("completed"))
        {
            var message = await ReceiveAsync(socket, buffer, timeout.Token);
            Assert.Equal("task_update", (string?)message["event"]);
            var task = message["task"]!.AsObject();
            foreach (var field in SeedFields) Assert.True(task.ContainsKey(field), $"missing {field}");
            if (Api.Id(task) != id) continue;
            seen.Add((string)task["status"]!);
            if (task["completed_at"] is { } finished)
                output.WriteLine($"completed pushed {(DateTimeOffset.UtcNow - DateTimeOffset.Parse((string)finished!)).TotalMilliseconds:0} ms after the transition");
        }
        Assert.Equal(["queued", "executing", "completed"], seen);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    // A worker's progress travels between nodes apart from the change feed (pg_notify): one that arrives after the hub sent
    // the task's end must not tell clients the task is executing again.
    [Fact]
    public async Task TaskSocket_AWorkersProgressArrivingAfterTheTaskEnded_IsNotPushedAsExecuting()
    {
        using var socket = (await ConnectTaskSocketAsync()).Socket;
        var id = Api.Id(await Api.SubmitAsync(app.Authorized(), Api.Submission("sleepy", new JsonObject { ["seconds"] = 0.1 })));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[64 * 1024];
        async Task<string> NextStatusOfOursAsync()
        {
            while (true)
            {
                var task = (await ReceiveAsync(socket, buffer, timeout.Token))["task"]!.AsObject();
                if (Api.Id(task) == id) return (string)task["status"]!;
            }
        }
        while (await NextStatusOfOursAsync() != "completed") { }
        var execution = (await app.Services.GetRequiredService<Taskdeck.Core.WorkTasks.IWorkTaskStore>().FindAsync(id))!.Execution;
        Assert.Equal(ExecutionState.Succeeded, execution.State);

        // Late, as from another node: the progress of the attempt that has ended, then a change the hub must push.
        var events = app.Services.GetRequiredService<ExecutionEvents>();
        events.Publish(new WorkerProgressReported(execution.Id, DateTimeOffset.UtcNow, execution.AttemptCount));
        events.Publish(new StateChanged(execution.Id, DateTimeOffset.UtcNow, ExecutionState.Succeeded, ExecutionState.Succeeded, Transition.Retry, execution.AttemptCount, null, null));

        Assert.Equal("completed", await NextStatusOfOursAsync());
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    // A worker's progress from attempt 1 arriving (as from another node, late) after the hub sent attempt 2's Running: it is
    // not pushed as executing — it would announce the worker of attempt 2 as started.
    [Fact]
    public async Task TaskSocket_AnEarlierAttemptsProgress_ArrivingWhileTheNextAttemptRuns_IsNotPushed()
    {
        using var socket = (await ConnectTaskSocketAsync()).Socket;
        var client = app.Authorized();
        var task = await Api.SubmitAsync(client, Api.SeedSubmission("ml_training"));
        var (id, executionId) = (Api.Id(task), (long)task["execution_id"]!);
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "failed", ["error_message"] = "OOMKilled" })).Status);
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[64 * 1024];
        async Task<JsonObject> NextOfOursAsync()
        {
            while (true)
            {
                var update = (await ReceiveAsync(socket, buffer, timeout.Token))["task"]!.AsObject();
                if (Api.Id(update) == id) return update;
            }
        }
        // Pushed in order: queued, executing, scheduled (the retry), executing (attempt 2). Each is rendered from the record as
        // it is by then, so only the order tells them apart.
        var retried = false;
        while ((string?)(await NextOfOursAsync())["status"] is var status && !(retried && status == "executing")) retried |= status == "scheduled";

        var events = app.Services.GetRequiredService<ExecutionEvents>();
        events.Publish(new WorkerProgressReported(executionId, DateTimeOffset.UtcNow, 1));
        // Then a change the hub must push (as if attempt 2 ended): the first update of ours to arrive.
        events.Publish(new StateChanged(executionId, DateTimeOffset.UtcNow, ExecutionState.Running, ExecutionState.Succeeded, Transition.Succeed, 2, null, "node-b"));

        Assert.Equal("completed", (string?)(await NextOfOursAsync())["status"]);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    // A progress report that reads the task running, then loses the race with its worker's "completed": what the end
    // recorded stays, the worker is told its report was not taken (409), and nothing announces the task as executing.
    [Fact]
    public async Task AProgressReport_ThatLosesTheRaceWithTheWorkersEnd_IsNotTaken_AndLeavesTheEndsMetadata()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission()));
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        var service = app.Services.GetRequiredService<WorkTaskService>();
        // The worker's end lands between the progress report's read and its write.
        var racing = new EndAfterTheRead(app.Services.GetRequiredService<IWorkTaskStore>(), id, async () =>
            Assert.Equal(ReportOutcome.Recorded, (await service.ReportAsync(id, new WorkerReport(WorkerStatus.Succeeded) { MetadataJson = """{"records_processed":1000}""" })).Outcome));
        var reporter = ActivatorUtilities.CreateInstance<WorkTaskService>(app.Services, racing);
        var executionId = (await service.FindAsync(id))!.Execution.Id;
        var told = new List<ExecutionEvent>();
        using (app.Services.GetRequiredService<ExecutionEvents>().Subscribe(e => { if (e.ExecutionId == executionId && e is WorkerProgressReported) lock (told) told.Add(e); }))
        {
            var progress = await reporter.ReportAsync(id, new WorkerReport(WorkerStatus.Started) { MetadataJson = """{"records_processed":500}""", Attempt = 1 });
            Assert.Equal(ReportOutcome.Conflict, progress.Outcome);
            Assert.Equal(ExecutionState.Succeeded, progress.State);
            Assert.Contains("not kept", progress.Message);
        }
        Assert.True(racing.Raced, "the end did not land between the read and the write");
        var done = await Api.GetAsync(client, id);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1000, (int)done["metadata"]!["records_processed"]!);
        Assert.Empty(told);
    }

    // An external worker's first "executing" with metadata: whoever reacts to the start (a socket, a page, another node's
    // follower) reads the metadata already kept.
    [Fact]
    public async Task AnExternalWorkersFirstExecuting_KeepsItsMetadata_BeforeTheStartIsPublished()
    {
        var client = app.Authorized();
        var task = await Api.SubmitAsync(client, Api.SeedSubmission());
        var executionId = (long)task["execution_id"]!;
        var store = app.Services.GetRequiredService<IWorkTaskStore>();
        var readOnStart = "(the start was not published)";
        using (app.Services.GetRequiredService<ExecutionEvents>().Subscribe(e =>
        {
            // Read at once, as the start is published (the publisher waits for its subscribers).
            if (e is StateChanged { To: ExecutionState.Running } s && s.ExecutionId == executionId)
                readOnStart = store.FindByExecutionAsync(executionId).GetAwaiter().GetResult()!.Task.MetadataJson ?? "(no metadata)";
        }))
        {
            var (status, _) = await Api.ReportAsync(client, Api.Id(task), new JsonObject { ["status"] = "executing", ["metadata"] = new JsonObject { ["records_processed"] = 10 } });
            Assert.Equal(200, status);
        }
        Assert.Equal("""{"records_processed":10}""", readOnStart);
        Assert.Equal(10, (int)(await Api.GetAsync(client, Api.Id(task)))["metadata"]!["records_processed"]!);
    }

    // A worker's end with its output: whoever reacts to the end (the task socket renders the task on it, a page, another
    // node's follower, a GET) reads the output location and metadata already kept, whichever end it is, a retry included.
    [Theory]
    [InlineData("completed", null, ExecutionState.Succeeded)]
    [InlineData("failed", "segmentation fault", ExecutionState.Failed)]
    [InlineData("failed", "container trainer: OOMKilled", ExecutionState.Scheduled)]
    [InlineData("timeout", null, ExecutionState.TimedOut)]
    public async Task AWorkersEnd_KeepsItsOutputAndMetadata_BeforeTheEndIsPublished(string status, string? error, ExecutionState ended)
    {
        var client = app.Authorized();
        var task = await Api.SubmitAsync(client, Api.SeedSubmission());
        var executionId = (long)task["execution_id"]!;
        Assert.Equal(200, (await Api.ReportAsync(client, Api.Id(task), new JsonObject { ["status"] = "executing" })).Status);
        var store = app.Services.GetRequiredService<IWorkTaskStore>();
        WorkTask? readOnEnd = null;
        using (app.Services.GetRequiredService<ExecutionEvents>().Subscribe(e =>
        {
            // Read at once, as the end is published (the publisher waits for its subscribers).
            if (e is StateChanged { From: ExecutionState.Running } s && s.ExecutionId == executionId)
                readOnEnd = store.FindByExecutionAsync(executionId).GetAwaiter().GetResult()!.Task;
        }))
        {
            var report = new JsonObject
            {
                ["status"] = status, ["error_message"] = error, ["output_location"] = "s3://results/run-7",
                ["metadata"] = new JsonObject { ["records_processed"] = 1000 },
            };
            Assert.Equal(200, (await Api.ReportAsync(client, Api.Id(task), report)).Status);
        }
        Assert.Equal(ended, (await app.Services.GetRequiredService<IExecutionReader>().FindAsync(executionId))!.State);
        Assert.True(readOnEnd is not null, "the end was not published");
        Assert.Equal("s3://results/run-7", readOnEnd.OutputLocation);
        Assert.Equal("""{"records_processed":1000}""", readOnEnd.MetadataJson);
        var after = await Api.GetAsync(client, Api.Id(task));
        Assert.Equal("s3://results/run-7", (string?)after["output_location"]);
        if (ended == ExecutionState.Scheduled) Assert.Equal(error, (string?)after["retry_reason"]);
    }

    // An end report that reads the task running, then loses the race with an operator's cancel: the worker is told its
    // report was not kept (409), and neither its output nor its metadata is on the task.
    [Fact]
    public async Task AnEndReport_ThatLosesTheRaceWithACancel_IsNotTaken_AndKeepsNothing()
    {
        var client = app.Authorized();
        var task = await Api.SubmitAsync(client, Api.SeedSubmission());
        var (id, executionId) = (Api.Id(task), (long)task["execution_id"]!);
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        var service = app.Services.GetRequiredService<WorkTaskService>();
        // The cancel lands between the end report's read and its write.
        var racing = new EndAfterTheRead(app.Services.GetRequiredService<IWorkTaskStore>(), id, async () =>
            Assert.True((await app.Services.GetRequiredService<ExecutionService>().CancelAsync(executionId, Taskdeck.Core.Audit.Actor.System)).Done));
        var reporter = ActivatorUtilities.CreateInstance<WorkTaskService>(app.Services, racing);

        var end = await reporter.ReportAsync(id, new WorkerReport(WorkerStatus.Failed)
            { ErrorMessage = "segmentation fault", OutputLocation = "s3://results/partial", MetadataJson = """{"records_processed":500}""", Attempt = 1 });

        Assert.True(racing.Raced, "the cancel did not land between the read and the write");
        Assert.Equal(ReportOutcome.Conflict, end.Outcome);
        Assert.Contains("not kept", end.Message);
        var cancelled = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(10), "cancelled");
        Assert.Null(cancelled["output_location"]);
        Assert.Null(cancelled["metadata"]);
    }

    // The socket contract (README): every update, in order, or a close with a reason. A client that falls ClientBuffer
    // messages behind is closed as "too slow"; one that keeps up misses nothing. The reader here keeps up by construction:
    // updates are published in batches smaller than the buffer and the next batch waits until it has read the last one
    // (the old version raced a free-running reader against the hub and failed when the reader was starved on a busy machine).
    [Fact]
    public async Task TaskSocket_AClientThatFallsBehind_IsClosedAsTooSlow_WhileOneThatKeepsUpGetsEveryUpdateInOrder()
    {
        var hub = app.Services.GetRequiredService<TaskUpdateHub>();
        var events = app.Services.GetRequiredService<ExecutionEvents>();
        var executionId = (long)(await Api.SubmitAsync(app.Authorized(), Api.SeedSubmission()))["execution_id"]!;
        var slow = hub.Add();
        var reader = hub.Add();
        try
        {
            ExecutionState[] cycle = [ExecutionState.Running, ExecutionState.Failed, ExecutionState.TimedOut, ExecutionState.Cancelled];
            string[] expected = ["executing", "failed", "timeout", "cancelled"];
            const int batch = 32;
            var published = 0;
            var received = new List<string>();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            // Synthetic changes, published as the engine publishes them, until the slow client is gone and a batch more.
            while (slow.CloseStatus is null || published % batch != 0 || published <= TaskUpdateHub.ClientBuffer + batch)
            {
                Assert.True(DateTime.UtcNow < deadline, $"published {published}, the keeping-up client read {received.Count}, slow dropped: {slow.CloseStatus}");
                events.Publish(new StateChanged(executionId, DateTimeOffset.UtcNow, null, cycle[published % 4], Transition.Retry, 0, null, null));
                published++;
                if (published % batch != 0) continue;
                while (received.Count < published)
                {
                    using var wait = new CancellationTokenSource(deadline - DateTime.UtcNow);
                    var message = JsonNode.Parse(await reader.Outbox.Reader.ReadAsync(wait.Token))!.AsObject();
                    // Only this test's synthetic updates; the task's own submit may still have been in the hub's inbox.
                    if ((long)message["task"]!["execution_id"]! == executionId && (string?)message["task"]!["status"] != "queued")
                        received.Add((string)message["task"]!["status"]!);
                }
            }
            Assert.Equal(Enumerable.Range(0, published).Select(i => expected[i % 4]), received);
            Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, slow.CloseStatus);
            Assert.Equal("too slow", slow.CloseReason);
            Assert.Null(reader.CloseStatus);
            Assert.DoesNotContain(slow, hub.Clients);
        }
        finally
        {
            hub.Remove(slow, System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "test over");
            hub.Remove(reader, System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "test over");
        }
    }

    // /ws/tasks at team scale: an update is rendered to JSON once, and every client is handed the same bytes (a hub that
    // serialized per client would hand each its own array).
    [Fact]
    public async Task TaskSocket_AnUpdate_IsSerializedOnce_AndTheSameBytesGoToEveryClient()
    {
        var hub = app.Services.GetRequiredService<TaskUpdateHub>();
        var events = app.Services.GetRequiredService<ExecutionEvents>();
        var executionId = (long)(await Api.SubmitAsync(app.Authorized(), Api.SeedSubmission()))["execution_id"]!;
        var clients = Enumerable.Range(0, 5).Select(_ => hub.Add()).ToList();
        try
        {
            events.Publish(new StateChanged(executionId, DateTimeOffset.UtcNow, null, ExecutionState.Running, Transition.Retry, 0, null, null));
            var received = new List<byte[]>();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            foreach (var client in clients)
            {
                while (true)
                {
                    var message = await client.Outbox.Reader.ReadAsync(wait.Token);
                    var task = JsonNode.Parse(message)!["task"]!;
                    if ((long)task["execution_id"]! != executionId || (string?)task["status"] != "executing") continue;
                    received.Add(message);
                    break;
                }
            }
            Assert.All(received, bytes => Assert.Same(received[0], bytes));
        }
        finally
        {
            foreach (var client in clients) hub.Remove(client, System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "test over");
        }
    }

    // End to end over the socket: a connection the hub drops as too slow reads what it was sent, then a close frame with
    // PolicyViolation and the reason "too slow" (before, the send loop was cancelled mid-flight, which aborts a WebSocket:
    // the client saw the connection vanish with no reason).
    [Fact]
    public async Task TaskSocket_DroppedAsTooSlow_ReceivesAPolicyViolationCloseWithTheReason()
    {
        var hub = app.Services.GetRequiredService<TaskUpdateHub>();
        var (socket, mine) = await ConnectTaskSocketAsync();
        using var _ = socket;

        Assert.True(hub.Remove(mine, System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, TaskUpdateHub.TooSlow));

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[64 * 1024];
        WebSocketReceiveResult result;
        do result = await socket.ReceiveAsync(buffer, timeout.Token);
        while (result.MessageType != WebSocketMessageType.Close);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, result.CloseStatus);
        Assert.Equal("too slow", result.CloseStatusDescription);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
    }

    [Fact]
    public async Task ExternalTask_StartedAndSilentPastItsTimeout_EndsTimeout()
    {
        var client = app.Authorized();
        var body = Api.SeedSubmission();
        body["timeout_seconds"] = 1;
        var id = Api.Id(await Api.SubmitAsync(client, body));
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        var done = await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(15), "timeout", "completed", "failed");
        Assert.Equal("timeout", (string?)done["status"]);
        Assert.Equal(409, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "completed" })).Status);
    }

    [Fact]
    public async Task OperatorCancel_OfARunningExternalTask_EndsCancelled_AndItsWorkersNextReportIs409()
    {
        var client = app.Authorized();
        var task = await Api.SubmitAsync(client, Api.SeedSubmission());
        var id = Api.Id(task);
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        // The operator cancels (anonymous Admin in this host): the worker token opens the work-task API only.
        var cancel = await app.CreateClient().PostAsync($"/api/executions/{(long)task["execution_id"]!}/cancel", null);
        Assert.True(cancel.IsSuccessStatusCode, await cancel.Content.ReadAsStringAsync());
        await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(10), "cancelled");
        Assert.Equal(409, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "completed" })).Status);
    }

    [Fact]
    public async Task AHandlerBoundTask_TakesNoOutcomeFromOutside_ButCanBeCancelled()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("sleepy", new JsonObject { ["seconds"] = 30 })));
        await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(20), "executing");
        foreach (var status in new[] { "executing", "completed", "failed", "timeout" })
            Assert.Equal(409, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = status })).Status);
        Assert.Equal("updated", (string?)(await Api.ReportAsync(client, id, new JsonObject { ["status"] = "cancelled" })).Body["status"]);
        await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(10), "cancelled");
    }

    [Fact]
    public async Task StatusUpdate_TheStateCannotTake_Is409_AndChangesNothing()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission("ml_inference")));
        Assert.Equal("updated", (string?)(await Api.ReportAsync(client, id, new JsonObject { ["status"] = "cancelled" })).Body["status"]);
        Assert.Equal("cancelled", (string?)(await Api.GetAsync(client, id))["status"]);

        var (status, problem) = await Api.ReportAsync(client, id, new JsonObject { ["status"] = "completed", ["output_location"] = "s3://x" });
        Assert.Equal(409, status);
        Assert.Equal(409, (int)problem["status"]!);
        var after = await Api.GetAsync(client, id);
        Assert.Equal("cancelled", (string?)after["status"]);
        Assert.Null(after["output_location"]);

        Assert.Equal(409, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
    }

    [Fact]
    public async Task StatusUpdate_UnknownId_Is404_MismatchedId_Is400_AndUnknownStatus_Is400()
    {
        var client = app.Authorized();
        var (missing, notFound) = await Api.ReportAsync(client, "no-such-task", new JsonObject { ["status"] = "completed" });
        Assert.Equal(404, missing);
        Assert.Equal(404, (int)notFound["status"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/worktasks/no-such-task")).StatusCode);

        var id = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission()));
        var (mismatch, problem) = await Api.ReportAsync(client, id, new JsonObject { ["worktask_id"] = "someone-else", ["status"] = "completed" });
        Assert.Equal(400, mismatch);
        Assert.Equal("worktask_id", (string?)problem["field"]);

        var (badStatus, statusProblem) = await Api.ReportAsync(client, id, new JsonObject { ["status"] = "queued" });
        Assert.Equal(400, badStatus);
        Assert.Equal("status", (string?)statusProblem["field"]);
        Assert.Equal("queued", (string?)(await Api.GetAsync(client, id))["status"]);
    }

    [Theory]
    [InlineData("type", null, "type")]
    [InlineData("type", "quantum_annealing", "type")]
    [InlineData("project_id", null, "project_id")]
    [InlineData("task_spec", null, "task_spec")]
    [InlineData("data_access", null, "data_access")]
    [InlineData("resource_requirements", null, "resource_requirements")]
    public async Task Submit_WithAMissingOrUnknownField_Is400NamingIt(string field, string? value, string expectedField)
    {
        var body = Api.SeedSubmission();
        if (value is null) body.Remove(field); else body[field] = value;
        var response = await app.Authorized().PostAsJsonAsync("/api/worktasks", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(expectedField, (string?)problem["field"]);
    }

    [Theory]
    [InlineData("cpu", "\"lots\"", "resource_requirements.cpu")]
    [InlineData("cpu", "\"-1\"", "resource_requirements.cpu")]
    [InlineData("memory", "\"2Gx\"", "resource_requirements.memory")]
    [InlineData("memory", "true", "resource_requirements.memory")]
    [InlineData("gpu", "\"many\"", "resource_requirements.gpu")]
    [InlineData("memoryMB", "-5", "resource_requirements.memoryMB")]
    public async Task Submit_WithBadResourceUnits_Is400NamingTheField(string key, string json, string expectedField)
    {
        var body = Api.SeedSubmission();
        body["resource_requirements"]![key] = JsonNode.Parse(json);
        var response = await app.Authorized().PostAsJsonAsync("/api/worktasks", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(expectedField, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["field"]);
    }

    [Fact]
    public async Task Submit_DefaultsPriorityToOne_AndMlTrainingToTwoRetries()
    {
        var body = Api.SeedSubmission("ml_training");
        body.Remove("priority");
        var task = await Api.SubmitAsync(app.Authorized(), body);
        Assert.Equal(1, (int)task["priority"]!);
        Assert.Equal(2, (int)task["max_retries"]!);
        var alias = await Api.SubmitAsync(app.Authorized(), Api.SeedSubmission("digital_twin_processing"));
        Assert.Equal("digital_twin_processing", (string?)alias["type"]);
        Assert.Equal(3, (int)alias["max_retries"]!);
    }

    // Follows the work-task server's Queue.RequeueWithRetry (pkg/queue/queue.go): a requeued task has its error_message cleared
    // and its retry_reason set; once retries are exhausted it fails with "failed after N retries: <last error>".
    [Fact]
    public async Task FailedWithOOMKilled_IsRequeuedWithItsErrorCleared_UntilMaxRetries_ThenFailedAfterNRetries()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission("ml_training"))); // max_retries 2
        for (var retry = 1; retry <= 2; retry++)
        {
            Assert.Equal("updated", (string?)(await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Body["status"]);
            Assert.Equal("executing", (string?)(await Api.GetAsync(client, id))["status"]);
            var (status, body) = await Api.ReportAsync(client, id, new JsonObject { ["status"] = "failed", ["error_message"] = "container trainer: OOMKilled" });
            Assert.Equal(200, status);
            Assert.Equal("requeued_for_retry", (string?)body["status"]);
            var requeued = await Api.GetAsync(client, id);
            Assert.Equal("scheduled", (string?)requeued["status"]);
            Assert.Equal(retry, (int)requeued["retry_count"]!);
            Assert.Contains("OOMKilled", (string?)requeued["retry_reason"]);
            Assert.True(requeued.ContainsKey("error_message"));
            Assert.Null(requeued["error_message"]);
        }
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        var (last, lastBody) = await Api.ReportAsync(client, id, new JsonObject { ["status"] = "failed", ["error_message"] = "OOMKilled again" });
        Assert.Equal(200, last);
        Assert.Equal("updated", (string?)lastBody["status"]);
        var failed = await Api.GetAsync(client, id);
        Assert.Equal("failed", (string?)failed["status"]);
        Assert.Equal(2, (int)failed["retry_count"]!);
        Assert.Equal("failed after 2 retries: OOMKilled again", (string?)failed["error_message"]);
        Assert.NotNull(failed["completed_at"]);
        // The wording is the work-task API's: the execution itself keeps the worker's error as it was.
        var execution = await app.Services.GetRequiredService<IExecutionReader>().FindAsync((long)failed["execution_id"]!);
        Assert.Equal("OOMKilled again", execution!.ErrorMessage);
    }

    [Fact]
    public async Task AReportAboutAnEarlierAttempt_IsRefused_AndCannotCloseTheRetry()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission()));
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        Assert.Equal("requeued_for_retry", (string?)(await Api.ReportAsync(client, id,
            new JsonObject { ["status"] = "failed", ["attempt"] = 1, ["error_message"] = "Evicted" })).Body["status"]);
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);

        var (late, _) = await Api.ReportAsync(client, id, new JsonObject { ["status"] = "completed", ["attempt"] = 1, ["output_location"] = "s3://stale" });
        Assert.Equal(409, late);
        Assert.Equal("executing", (string?)(await Api.GetAsync(client, id))["status"]);
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "completed", ["attempt"] = 2 })).Status);
        var done = await Api.GetAsync(client, id);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Null(done["output_location"]);
        Assert.Equal(1, (int)done["retry_count"]!);
    }

    [Fact]
    public async Task FailedWithANonTransientError_EndsFailedAtOnce()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission()));
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        var (status, body) = await Api.ReportAsync(client, id, new JsonObject { ["status"] = "failed", ["error_message"] = "segmentation fault" });
        Assert.Equal(200, status);
        Assert.Equal("updated", (string?)body["status"]);
        var failed = await Api.GetAsync(client, id);
        Assert.Equal("failed", (string?)failed["status"]);
        Assert.Equal(0, (int)failed["retry_count"]!);
        Assert.Equal("segmentation fault", (string?)failed["error_message"]);
    }

    [Fact]
    public async Task TimeoutReport_EndsTheTaskTimedOut()
    {
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission("digital_twin_update")));
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "executing" })).Status);
        Assert.Equal(200, (await Api.ReportAsync(client, id, new JsonObject { ["status"] = "timeout" })).Status);
        Assert.Equal("timeout", (string?)(await Api.GetAsync(client, id))["status"]);
    }

    [Fact]
    public async Task PrometheusText_ParsesByTheExpositionRules_AndHasTheEngineFamilies()
    {
        // Something finished so the histogram and counters have samples.
        var client = app.Authorized();
        var id = Api.Id(await Api.SubmitAsync(client, Api.Submission("sleepy", new JsonObject { ["seconds"] = 0.05 })));
        await Api.WaitForStatusAsync(client, id, TimeSpan.FromSeconds(20), "completed");

        var response = await app.CreateClient().GetAsync("/api/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var families = PrometheusText.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal("gauge", families["taskdeck_queue_length"].Type);
        Assert.Equal("gauge", families["taskdeck_live_worker_nodes"].Type);
        Assert.True(families["taskdeck_live_worker_nodes"].Samples.Single().Value >= 1);
        var executions = families["taskdeck_executions"];
        Assert.Contains(executions.Samples, s => s.Labels["state"] == "Succeeded" && s.Labels["task"] == "demo.sleep" && s.Value >= 1);
        Assert.Contains(families["taskdeck_worktasks"].Samples, s => s.Labels["status"] == "completed" && s.Labels["type"] == "sleepy");
        Assert.Equal("counter", families["taskdeck_attempts_started_total"].Type);
        Assert.True(families["taskdeck_attempts_started_total"].Samples.Single().Value >= 1);
        Assert.Equal("counter", families["taskdeck_failures_total"].Type);
        var histogram = families["taskdeck_attempt_duration_seconds"];
        Assert.Equal("histogram", histogram.Type);
        Assert.Contains(histogram.Samples, s => s.Name == "taskdeck_attempt_duration_seconds_count" && s.Labels["outcome"] == "Succeeded" && s.Value >= 1);
        // What open console pages cost the node: the live views' queries and the pages' drawing.
        foreach (var family in new[] { "taskdeck_console_live_query_seconds_total", "taskdeck_console_live_queries_total", "taskdeck_console_live_render_seconds_total" })
            Assert.Equal("counter", families[family].Type);
    }

    [Fact]
    public async Task PrometheusText_HasTheNodesOwnRuntime_ReadAtEachScrape()
    {
        var client = app.CreateClient();
        var first = PrometheusText.Parse(await client.GetStringAsync("/api/metrics"));
        foreach (var (family, type) in new[]
                 {
                     ("process_cpu_seconds_total", "counter"), ("process_working_set_bytes", "gauge"), ("dotnet_collection_count_total", "counter"),
                     ("dotnet_jit_compiled_methods_total", "counter"), ("dotnet_jit_compilation_time_seconds_total", "counter"),
                     ("dotnet_gc_pause_time_seconds_total", "counter"), ("dotnet_gc_last_collection_memory_committed_size_bytes", "gauge"),
                     ("dotnet_thread_pool_threads", "gauge"), ("dotnet_thread_pool_queue_length", "gauge"),
                 })
            Assert.True(first.TryGetValue(family, out var found) && found.Type == type, $"{family}: expected a {type}");
        Assert.True(first["dotnet_thread_pool_threads"].Samples.Single().Value >= 1);
        Assert.True(first["process_working_set_bytes"].Samples.Single().Value > 0);

        // The runtime's own count, read between two scrapes, lies between what they exported: each scrape reads it anew.
        var exportedFirst = first["dotnet_jit_compiled_methods_total"].Samples.Single().Value;
        var between = System.Runtime.JitInfo.GetCompiledMethodCount();
        var second = PrometheusText.Parse(await client.GetStringAsync("/api/metrics"));
        var exportedSecond = second["dotnet_jit_compiled_methods_total"].Samples.Single().Value;
        Assert.InRange(between, (long)exportedFirst, (long)exportedSecond);
        Assert.True(exportedFirst > 0);
    }

    /// <summary>
    /// A <c>/ws/tasks</c> connection with the worker token, returned once the hub has registered it (so it misses no update
    /// published after this returns), with the hub's side of it.
    /// </summary>
    private async Task<(WebSocket Socket, TaskUpdateHub.Client Client)> ConnectTaskSocketAsync()
    {
        var hub = app.Services.GetRequiredService<TaskUpdateHub>();
        var before = hub.Clients.ToHashSet();
        var ws = app.Server.CreateWebSocketClient();
        ws.ConfigureRequest = r => r.Headers.Authorization = $"Bearer {WorkTaskApp.Token}";
        var socket = await ws.ConnectAsync(new Uri(app.Server.BaseAddress, "/ws/tasks"), CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        TaskUpdateHub.Client? mine;
        while ((mine = hub.Clients.FirstOrDefault(c => !before.Contains(c))) is null && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(mine is not null, "the WebSocket client never registered");
        return (socket, mine);
    }

    /// <summary>The real store, where <paramref name="end"/> runs once between the first read of the task and what follows it.</summary>
    private sealed class EndAfterTheRead(IWorkTaskStore inner, string workTaskId, Func<Task> end) : IWorkTaskStore
    {
        private int _armed = 1;
        public bool Raced => _armed == 0;

        public async Task<WorkTaskRecord?> FindAsync(string id, CancellationToken ct = default)
        {
            var read = await inner.FindAsync(id, ct);
            if (id == workTaskId && Interlocked.Exchange(ref _armed, 0) == 1) await end();
            return read;
        }

        public Task InsertAsync(WorkTask task, CancellationToken ct = default) => inner.InsertAsync(task, ct);
        public Task<WorkTaskRecord?> FindByExecutionAsync(long executionId, CancellationToken ct = default) => inner.FindByExecutionAsync(executionId, ct);
        public Task<bool> RecordWorkerEndAsync(long executionId, IReadOnlyList<ExecutionState> states, int attempt, string? outputLocation, string? metadataJson,
            CancellationToken ct = default) => inner.RecordWorkerEndAsync(executionId, states, attempt, outputLocation, metadataJson, ct);
        public Task RecordRetryReasonAsync(long executionId, string retryReason, CancellationToken ct = default) => inner.RecordRetryReasonAsync(executionId, retryReason, ct);
        public Task<bool> RecordWorkerReportAsync(long executionId, ExecutionState state, int attempt, string? metadataJson, bool started, CancellationToken ct = default) =>
            inner.RecordWorkerReportAsync(executionId, state, attempt, metadataJson, started, ct);
        public Task SetWorkerTokenAsync(long executionId, int attempt, string tokenHash, CancellationToken ct = default) => inner.SetWorkerTokenAsync(executionId, attempt, tokenHash, ct);
        public Task<IReadOnlyList<(long Id, int Attempt)>> FindOverdueExternalAsync(DateTimeOffset now, CancellationToken ct = default) => inner.FindOverdueExternalAsync(now, ct);
        public Task<IReadOnlyList<(long Id, int Attempt)>> FindCancellingExternalAsync(CancellationToken ct = default) => inner.FindCancellingExternalAsync(ct);
    }

    internal static async Task<JsonObject> ReceiveAsync(WebSocket socket, byte[] buffer, CancellationToken ct)
    {
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, ct);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
        } while (!result.EndOfMessage);
        return JsonNode.Parse(message.ToArray())!.AsObject();
    }
}
