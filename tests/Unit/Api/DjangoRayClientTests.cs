using Taskdeck.Core.Audit;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Api;

/// <summary>
/// An existing django-ray client against Taskdeck: each test follows a case of django-ray's own testproject test suite
/// (tests/integration/test_api.py, the version with reset and delete), named in its comment.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class DjangoRayClientTests(EngineHost host)
{
    private readonly HttpClient _client = host.CreateClient();

    private async Task<long> SubmitAsync(object body)
    {
        using var response = await _client.PostAsJsonAsync("/api/tasks", body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (long)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
    }

    private async Task<JsonObject> GetAsync(string url)
    {
        using var response = await _client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<JsonObject> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(text)!.AsObject();
    }

    private static object Later => new { task = "demo.noop", runAt = DateTimeOffset.UtcNow.AddHours(1) };

    // test_cancel_queued_execution: 200, and the body is the execution (TaskExecutionSchema) in state CANCELLED.
    [Fact]
    public async Task CancelQueued_Answers200_WithTheExecutionAsGetShowsIt()
    {
        var id = await SubmitAsync(Later);
        using var response = await _client.PostAsync($"/api/executions/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("CANCELLED", (string?)body["state"]);
        var get = await GetAsync($"/api/executions/{id}");
        Assert.Equal(get.ToJsonString(), body.ToJsonString());
    }

    // test_retry_failed_execution: a FAILED execution on attempt 1 retried answers 200, state QUEUED, attempt_number 2.
    // Here a worker may claim it before the answer is read, so the state may have moved on; the attempt may not.
    [Fact]
    public async Task RetryFailed_Answers200_WithTheAttemptItQueued()
    {
        var id = await SubmitAsync(new { task = "demo.fail" });
        await host.WaitForAsync(id, d => d.Execution.State == ExecutionState.Failed, what: "failed");
        Assert.Equal(1, (int)(await GetAsync($"/api/executions/{id}"))["attempt_number"]!);

        using var response = await _client.PostAsync($"/api/executions/{id}/retry", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(id, (long)body["id"]!);
        Assert.Equal(2, (int)body["attempt_number"]!);
        Assert.Contains((string?)body["state"], new[] { "QUEUED", "RUNNING", "FAILED" });
    }

    // test_get_execution / the model's default: attempt_number is 1 before any attempt ran (also on /api/tasks/{task_id}).
    [Fact]
    public async Task AttemptNumber_IsOne_BeforeTheFirstAttemptStarts()
    {
        var id = await SubmitAsync(Later);
        var e = await GetAsync($"/api/executions/{id}");
        Assert.Equal("QUEUED", (string?)e["state"]);
        Assert.Equal(1, (int)e["attempt_number"]!);
        Assert.Equal(1, (int)(await GetAsync($"/api/tasks/{(string)e["task_id"]!}"))["attempt_number"]!);
        var listed = (await GetAsync("/api/executions?state=QUEUED&limit=100"))["tasks"]!.AsArray();
        Assert.All(listed, t => Assert.True((int)t!["attempt_number"]! >= 1, t!.ToJsonString()));
    }

    // test_delete_execution: DELETE of a QUEUED execution answers 200 and the record is gone (it is cancelled first here).
    [Fact]
    public async Task DeleteOfWaitingWork_CancelsAndDeletesIt()
    {
        var id = await SubmitAsync(Later);
        using var delete = await _client.DeleteAsync($"/api/executions/{id}");
        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.Equal($"Execution {id} deleted", (string?)(await delete.Content.ReadFromJsonAsync<JsonObject>())!["message"]);
        using var gone = await _client.GetAsync($"/api/executions/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Null(await host.Queries.GetDetailAsync(id));
    }

    // The one deliberate difference (README): running work is not deleted while it runs.
    [Fact]
    public async Task DeleteOfRunningWork_Is409_SayingToCancelFirst()
    {
        var id = await SubmitAsync(new { task = "test.gate" });
        try
        {
            await host.WaitForAsync(id, d => d.Execution.State == ExecutionState.Running, what: "running");
            using var delete = await _client.DeleteAsync($"/api/executions/{id}");
            var problem = await ProblemAsync(delete, HttpStatusCode.Conflict);
            Assert.Equal("RUNNING", (string?)problem["state"]);
            Assert.Contains("cancel it first", (string?)problem["detail"]);
            Assert.NotNull(await host.Queries.GetDetailAsync(id));
        }
        finally
        {
            host.Gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    // reset_executions(state: Literal["RUNNING", "FAILED", "LOST"]): django-ray's validation refuses another state with 422.
    [Theory]
    [InlineData("?state=SUCCEEDED", null)]
    [InlineData("", """{"state": "QUEUED"}""")]
    [InlineData("", """{"states": ["FAILED", "RUNNING"]}""")]
    public async Task ResetOfAStateThatCannotBeReset_Is422_NamingTheStatesThatCan(string query, string? body)
    {
        using var content = body is null ? null : new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await _client.PostAsync("/api/executions/reset" + query, content);
        var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Equal("state", (string?)problem["field"]);
        Assert.Equal(["CANCELLED", "EXPIRED", "FAILED", "LOST"], problem["allowed"]!.AsArray().Select(s => (string)s!).Order(StringComparer.Ordinal));
        foreach (var state in new[] { "FAILED", "CANCELLED", "LOST", "EXPIRED" }) Assert.Contains(state, (string?)problem["detail"]);
    }

    // Issue 9: a reset with no filter at all would requeue everything; it needs an explicit "all": true.
    [Theory]
    [InlineData(null)]
    [InlineData("{}")]
    [InlineData("""{"all": false}""")]
    public async Task ResetWithNoFilter_Is400_AskingForAll(string? body)
    {
        using var content = body is null ? null : new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await _client.PostAsync("/api/executions/reset", content);
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("all", (string?)problem["field"]);
    }

    // test_prometheus_metrics: django-ray's families with state and queue labels, beside Taskdeck's own, promtool-clean.
    [Fact]
    public async Task Metrics_CarryDjangoRaysFamilies_AndAScrapeIsPromtoolClean()
    {
        var queueA = "dr-" + Guid.NewGuid().ToString("N")[..8];
        var queueB = "high-priority-" + Guid.NewGuid().ToString("N")[..8];
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var waiting = new List<long>();
        foreach (var queue in new[] { queueA, queueA, queueB }) waiting.Add(await SubmitAsync(new { task = "demo.noop", queue, runAt = later }));
        var gated = await SubmitAsync(new { task = "test.gate" });
        try
        {
            await host.WaitForAsync(gated, d => d.Execution.State == ExecutionState.Running, what: "running");
            using var response = await _client.GetAsync("/api/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await DjangoRayMetricsAssertions.AssertAsync(response.Content.Headers.ContentType!.ToString(), await response.Content.ReadAsStringAsync(),
                new Dictionary<string, int> { [queueA] = 2, [queueB] = 1 }, somethingRuns: true);
        }
        finally
        {
            host.Gates.GetOrAdd(gated, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            foreach (var id in waiting) await host.Executions.CancelAsync(id, Actor.System);
        }
    }

    [Theory]
    [InlineData(null, "text/plain")] // django-ray's client sends none
    [InlineData("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "text/plain")] // Prometheus 2.x
    [InlineData("text/plain;version=0.0.4", "text/plain")]
    [InlineData("application/openmetrics-text", "text/plain")]
    [InlineData("application/json", "application/json")]
    [InlineData("*/*", "application/json")] // curl's default, as the work-task seed's examples
    [InlineData("application/json, text/plain;q=0.5", "application/json")]
    public async Task Metrics_ContentNegotiation_FollowsAccept(string? accept, string mediaType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/metrics");
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        if (mediaType == "application/json") Assert.NotNull(JsonNode.Parse(text)!["tasks_by_status"]);
        else Assert.Contains("django_ray_tasks_total{state=\"QUEUED\"}", text);
    }

    [Fact]
    public async Task OpenApi_DocumentsTheMetricsNegotiation()
    {
        var doc = await GetAsync("/api/openapi.json");
        var get = doc["paths"]!["/api/metrics"]!["get"]!;
        Assert.Contains("Accept", (string?)get["description"]);
        var content = get["responses"]!["200"]!["content"]!.AsObject();
        Assert.Contains("application/json", content.Select(c => c.Key));
        Assert.Contains("text/plain", content.Select(c => c.Key));
    }

    // The work-task server's TestHealthCheck (tests/integration/api_test.go): GET /health → 200 {"status": "healthy"}.
    [Fact]
    public async Task WorkTaskHealthRoute_AnswersHealthy()
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        HttpResponseMessage response;
        while ((response = await _client.GetAsync("/health")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < until) await Task.Delay(100);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("""{"status":"healthy"}""", body.ToJsonString());
    }
}
