using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Api;

/// <summary>django-ray's execution API through the real app (WebApplicationFactory), with its error cases.</summary>
[Collection(EngineCollection.Name)]
public sealed class ExecutionsApiTests(EngineHost host)
{
    private readonly HttpClient _client = host.CreateClient();

    private static string NewTag() => "t" + Guid.NewGuid().ToString("N")[..10];

    private async Task<JsonObject> SubmitAsync(object body)
    {
        using var response = await _client.PostAsJsonAsync("/api/tasks", body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private async Task<JsonObject> GetJsonAsync(string url, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await _client.GetAsync(url);
        Assert.True(expected == response.StatusCode, $"GET {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    /// <summary>A ProblemDetails with the status, and the named field when given.</summary>
    private static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? field = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)status, (int)problem["status"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["detail"]), text);
        if (field is not null) Assert.Equal(field, (string?)problem["field"]);
        return problem;
    }

    private async Task<JsonObject> WaitForStateAsync(long id, string state)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var e = await GetJsonAsync($"/api/executions/{id}");
            if ((string?)e["state"] == state) return e;
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"execution {id} is {e["state"]}, not {state}");
            await Task.Delay(25);
        }
    }

    [Theory]
    [InlineData("/api/livez", "alive")]
    [InlineData("/api/readyz", "healthy")]
    [InlineData("/api/health", "healthy")]
    public async Task HealthRoutes_AnswerWithTheirStatus(string url, string status)
    {
        // Readiness waits for this node's Hangfire server to announce itself: poll, with a deadline.
        var until = DateTime.UtcNow.AddSeconds(30);
        JsonObject body;
        while (true)
        {
            using var response = await _client.GetAsync(url);
            body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            if (response.StatusCode == HttpStatusCode.OK || DateTime.UtcNow > until) break;
            await Task.Delay(100);
        }
        Assert.Equal(status, (string?)body["status"]);
        Assert.NotNull(body["version"]);
        if (status == "healthy") Assert.Equal("ok", (string?)body["database"]);
    }

    [Fact]
    public async Task Submit_ThenTaskResultAndExecution_ShowDjangoRayShapes()
    {
        var submitted = await SubmitAsync(new { task = "demo.echo", args = new { lines = new[] { "hello" } }, queue = "reports", tags = new[] { "api" } });
        var id = (long)submitted["id"]!;
        var taskId = (string)submitted["task_id"]!;
        Assert.Equal("QUEUED", (string?)submitted["state"]);

        var e = await WaitForStateAsync(id, "SUCCEEDED");
        Assert.Equal(taskId, (string?)e["task_id"]);
        Assert.Equal("demo.echo", (string?)e["callable_path"]);
        Assert.Equal("reports", (string?)e["queue_name"]);
        Assert.Equal(1, (int)e["attempt_number"]!);
        Assert.Equal("""["hello"]""", (string?)e["result_data"]);
        Assert.Null(e["error_message"]);
        Assert.NotNull(e["created_at"]);
        Assert.NotNull(e["started_at"]);
        Assert.NotNull(e["finished_at"]);
        var attempt = Assert.Single(e["attempts"]!.AsArray());
        Assert.Equal("Succeeded", (string?)attempt!["outcome"]);

        var result = await GetJsonAsync($"/api/tasks/{taskId}");
        Assert.Equal("SUCCESSFUL", (string?)result["status"]);
        Assert.Equal("SUCCEEDED", (string?)result["state"]);
        Assert.Equal("hello", (string?)result["kwargs"]!["lines"]![0]);
        Assert.Empty(result["args"]!.AsArray());
        Assert.NotNull(result["enqueued_at"]);
        Assert.NotNull(result["finished_at"]);
    }

    [Fact]
    public async Task UnknownIds_Are404ProblemDetails()
    {
        using var task = await _client.GetAsync($"/api/tasks/{Guid.NewGuid()}");
        await AssertProblemAsync(task, HttpStatusCode.NotFound);
        using var execution = await _client.GetAsync("/api/executions/987654321");
        await AssertProblemAsync(execution, HttpStatusCode.NotFound);
        using var cancel = await _client.PostAsync("/api/executions/987654321/cancel", null);
        Assert.Equal("NOT_FOUND", (string?)(await AssertProblemAsync(cancel, HttpStatusCode.NotFound))["code"]);
        using var retry = await _client.PostAsync("/api/executions/987654321/retry", null);
        Assert.Equal("NOT_FOUND", (string?)(await AssertProblemAsync(retry, HttpStatusCode.NotFound))["code"]);
        using var delete = await _client.DeleteAsync("/api/executions/987654321");
        await AssertProblemAsync(delete, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task List_PagesWithACursor_NewestFirst_WithoutGapsOrRepeats()
    {
        var tag = NewTag();
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var ids = new List<long>();
        for (var i = 0; i < 5; i++) ids.Add((long)(await SubmitAsync(new { task = "demo.noop", runAt = later, tags = new[] { tag } }))["id"]!);

        var seen = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await GetJsonAsync($"/api/executions?tag={tag}&limit=2" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"));
            pages++;
            Assert.Equal(2, (int)page["limit"]!);
            var tasks = page["tasks"]!.AsArray();
            Assert.Equal(tasks.Count, (int)page["returned_count"]!);
            seen.AddRange(tasks.Select(t => (long)t!["id"]!));
            cursor = (string?)page["next_cursor"];
            Assert.Equal(cursor is not null, (bool)page["has_more"]!);
            foreach (var key in new[] { "total", "queued", "running", "succeeded", "failed", "expired" }) Assert.NotNull(page[key]);
        } while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(ids.OrderDescending(), seen);
    }

    [Fact]
    public async Task List_FiltersByState_TaskName_Queue_AndTimeRange()
    {
        var tag = NewTag();
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var queued = (long)(await SubmitAsync(new { task = "demo.noop", runAt = later, queue = "alpha", tags = new[] { tag } }))["id"]!;
        var echo = (long)(await SubmitAsync(new { task = "demo.echo", queue = "beta", tags = new[] { tag } }))["id"]!;
        await WaitForStateAsync(echo, "SUCCEEDED");

        async Task<long[]> Ids(string query) =>
            (await GetJsonAsync($"/api/executions?tag={tag}&{query}"))["tasks"]!.AsArray().Select(t => (long)t!["id"]!).ToArray();

        Assert.Equal([queued], await Ids("state=QUEUED"));
        Assert.Equal([echo], await Ids("state=succeeded"));
        Assert.Equal([echo], await Ids("task_name=demo.echo"));
        Assert.Equal([queued], await Ids("queue=alpha"));
        Assert.Equal([echo, queued], await Ids($"created_after={Uri.EscapeDataString(before.ToString("O"))}"));
        Assert.Empty(await Ids($"created_after={Uri.EscapeDataString(later.ToString("O"))}"));
        Assert.Empty(await Ids($"created_before={Uri.EscapeDataString(before.ToString("O"))}"));
        var byTaskId = (string)(await GetJsonAsync($"/api/executions/{echo}"))["task_id"]!;
        Assert.Equal([echo], await Ids($"task_id={byTaskId}"));
    }

    [Theory]
    [InlineData("state=NOPE", "state")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    public async Task List_WithABadQuery_Is400NamingTheParameter(string query, string field)
    {
        using var response = await _client.GetAsync($"/api/executions?{query}");
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task Cancel_OfQueued_AnswersTheCancelledExecution_ThenAgain_ConflictAlreadyTerminal_ThenRetry_RunsIt()
    {
        var id = (long)(await SubmitAsync(new { task = "demo.noop", runAt = DateTimeOffset.UtcNow.AddHours(1) }))["id"]!;

        using var cancel = await _client.PostAsync($"/api/executions/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var cancelled = (await cancel.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(id, (long)cancelled["id"]!);
        Assert.Equal("CANCELLED", (string?)cancelled["state"]);

        using var again = await _client.PostAsync($"/api/executions/{id}/cancel", null);
        var conflict = await AssertProblemAsync(again, HttpStatusCode.Conflict);
        Assert.Equal("ALREADY_TERMINAL", (string?)conflict["code"]);
        Assert.Equal("CANCELLED", (string?)conflict["state"]);

        using var retry = await _client.PostAsync($"/api/executions/{id}/retry", null);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        var retried = (await retry.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(id, (long)retried["id"]!);
        Assert.Contains((string?)retried["state"], new[] { "QUEUED", "RUNNING", "SUCCEEDED" });
        await WaitForStateAsync(id, "SUCCEEDED");

        using var retrySucceeded = await _client.PostAsync($"/api/executions/{id}/retry", null);
        Assert.Equal("NOT_RETRYABLE", (string?)(await AssertProblemAsync(retrySucceeded, HttpStatusCode.Conflict))["code"]);
    }

    [Fact]
    public async Task Cancel_OfRunning_AnswersItCancelling_ThenEndsCancelled()
    {
        var id = (long)(await SubmitAsync(new { task = "demo.sleep", args = new { seconds = 60 } }))["id"]!;
        await WaitForStateAsync(id, "RUNNING");

        using var delete = await _client.DeleteAsync($"/api/executions/{id}");
        Assert.Equal("RUNNING", (string?)(await AssertProblemAsync(delete, HttpStatusCode.Conflict))["state"]);

        using var cancel = await _client.PostAsync($"/api/executions/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        // The worker may already have confirmed the cancel when the answer is read.
        Assert.Contains((string?)(await cancel.Content.ReadFromJsonAsync<JsonObject>())!["state"], new[] { "CANCELLING", "CANCELLED" });
        await WaitForStateAsync(id, "CANCELLED");
    }

    [Fact]
    public async Task Delete_OfFinished_RemovesIt()
    {
        var id = (long)(await SubmitAsync(new { task = "demo.noop" }))["id"]!;
        await WaitForStateAsync(id, "SUCCEEDED");

        using var delete = await _client.DeleteAsync($"/api/executions/{id}");
        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.Equal($"Execution {id} deleted", (string?)(await delete.Content.ReadFromJsonAsync<JsonObject>())!["message"]);
        using var gone = await _client.GetAsync($"/api/executions/{id}");
        await AssertProblemAsync(gone, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Reset_SendsMatchingFailedBackToTheQueue_AndSaysHowMany()
    {
        var tag = NewTag();
        var ids = new List<long>();
        for (var i = 0; i < 2; i++) ids.Add((long)(await SubmitAsync(new { task = "demo.fail", tags = new[] { tag } }))["id"]!);
        foreach (var id in ids) await WaitForStateAsync(id, "FAILED");

        using var reset = await _client.PostAsJsonAsync("/api/executions/reset?state=FAILED", new { tag });
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        var body = (await reset.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("Reset 2 execution(s) to QUEUED state", (string?)body["message"]);
        Assert.Equal(2, (int)body["count"]!);
        foreach (var id in ids)
        {
            var e = await host.WaitForAsync(id, d => d.Attempts.Count == 2 && d.Execution.State == ExecutionState.Failed, what: "a second failed attempt");
            Assert.Equal(2, e.Execution.AttemptCount);
        }

        using var bad = await _client.PostAsJsonAsync("/api/executions/reset", new { state = "SIDEWAYS" });
        await AssertProblemAsync(bad, HttpStatusCode.BadRequest, "state");
    }

    [Theory]
    [InlineData("""{"task": "demo.noop", "maxRetries": "x"}""", "maxRetries")]
    [InlineData("""{"task": "demo.noop", "args": [1, 2]}""", "args")]
    [InlineData("""{"queue": "default"}""", "task")]
    [InlineData("""{"task": "demo.noop", "command": ["/bin/echo"]}""", "command")]
    [InlineData("""{"task": "no.such.handler"}""", "task")]
    [InlineData("""{"task": "demo.noop", "timeoutSeconds": 0}""", "timeoutSeconds")]
    [InlineData("""{"task": "demo.noop", "maxRetries": -1}""", "maxRetries")]
    [InlineData("""{"command": ["/bin/echo"], "environment": ["NOEQUALS"]}""", "environment")]
    public async Task Submit_WithABadBody_Is400NamingTheField(string json, string field)
    {
        using var response = await _client.PostAsync("/api/tasks", new StringContent(json, Encoding.UTF8, "application/json"));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task Submit_WithMalformedJson_Is400ProblemDetails()
    {
        using var response = await _client.PostAsync("/api/tasks", new StringContent("{\"task\": ", Encoding.UTF8, "application/json"));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task OpenApiDocument_AndSwaggerUi_AreServed()
    {
        var doc = await GetJsonAsync("/api/openapi.json");
        var paths = doc["paths"]!.AsObject().Select(p => p.Key).ToList();
        foreach (var path in new[] { "/api/livez", "/api/readyz", "/api/health", "/api/tasks/{taskId}", "/api/executions", "/api/executions/stats",
                     "/api/executions/{id}", "/api/executions/{id}/cancel", "/api/executions/{id}/retry", "/api/executions/reset" })
            Assert.Contains(path, paths);

        using var docs = await _client.GetAsync("/api/docs");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        var html = await docs.Content.ReadAsStringAsync();
        Assert.Contains("swagger-ui", html);
    }
}
