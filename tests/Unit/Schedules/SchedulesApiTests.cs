using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Unit.Schedules;

/// <summary><c>/api/schedules</c> through the real app: create, get, list, update, pause, resume, trigger, firings, delete, errors.</summary>
[Collection(ScheduleCollection.Name)]
public sealed class SchedulesApiTests(ScheduleHost host)
{
    private readonly HttpClient _client = host.CreateClient();

    private static string NewName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static async Task<JsonObject> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        if (field is not null) Assert.Equal(field, (string?)problem["field"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["detail"]));
        return problem;
    }

    [Fact]
    public async Task CreateGetListUpdatePauseResumeTriggerDelete_RoundTrip()
    {
        var name = NewName("nightly");
        using var created = await _client.PostAsJsonAsync("/api/schedules", new
        {
            name, cron = "30 2 * * *", timeZone = "Europe/Berlin", task = "demo.noop", args = new { n = 1 }, overlap = "BufferOne", catchUp = "All", tags = new[] { "ops" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"/api/schedules/{name}", created.Headers.Location?.OriginalString);
        var body = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("at 02:30, every day", (string?)body["cronDescription"]);
        Assert.Equal("BufferOne", (string?)body["overlap"]);
        Assert.Equal("task", (string?)body["kind"]);

        var got = (await _client.GetFromJsonAsync<JsonObject>($"/api/schedules/{name}"))!;
        var next = got["nextFireTimes"]!.AsArray();
        Assert.Equal(5, next.Count);
        foreach (var time in next)
        {
            var local = DateTimeOffset.Parse((string)time!["local"]!);
            var utc = DateTimeOffset.Parse((string)time["utc"]!);
            Assert.Equal(local, utc);                                  // the same instant…
            Assert.Equal(TimeSpan.Zero, utc.Offset);                    // …in UTC…
            Assert.Equal((2, 30), (local.Hour, local.Minute));          // …and 02:30 on Berlin's wall clock
        }

        var list = (await _client.GetFromJsonAsync<JsonObject>($"/api/schedules?q={name}"))!;
        Assert.Equal(name, (string?)Assert.Single(list["schedules"]!.AsArray())!["name"]);

        using var updated = await _client.PutAsJsonAsync($"/api/schedules/{name}", new { cron = "*/5 * * * *" });
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        var after = (await updated.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("every 5 minutes", (string?)after["cronDescription"]);
        Assert.Equal("demo.noop", (string?)after["task"]); // fields left out keep their values

        using var paused = await _client.PostAsync($"/api/schedules/{name}/pause", null);
        Assert.False((bool)(await paused.Content.ReadFromJsonAsync<JsonObject>())!["enabled"]!);
        Assert.Empty((await _client.GetFromJsonAsync<JsonObject>($"/api/schedules/{name}"))!["nextFireTimes"]!.AsArray());
        using var resumed = await _client.PostAsync($"/api/schedules/{name}/resume", null);
        Assert.True((bool)(await resumed.Content.ReadFromJsonAsync<JsonObject>())!["enabled"]!);

        using var triggered = await _client.PostAsync($"/api/schedules/{name}/trigger", null);
        Assert.Equal(HttpStatusCode.Accepted, triggered.StatusCode);
        var firing = (await triggered.Content.ReadFromJsonAsync<JsonObject>())!["firing"]!;
        Assert.Equal("Started", (string?)firing["outcome"]);
        var executionId = (long)firing["executionId"]!;

        // The run carries the schedule: filterable in the executions API.
        var runs = (await _client.GetFromJsonAsync<JsonObject>($"/api/executions?schedule={name}"))!["tasks"]!.AsArray();
        var run = Assert.Single(runs)!;
        Assert.Equal(executionId, (long)run["id"]!);
        Assert.Equal(name, (string?)run["schedule_name"]);

        var firings = (await _client.GetFromJsonAsync<JsonObject>($"/api/schedules/{name}/firings"))!["firings"]!.AsArray();
        var only = Assert.Single(firings)!;
        Assert.Equal(("Manual", "Started", executionId), ((string?)only["kind"], (string?)only["outcome"], (long)only["executionId"]!));

        using var deleted = await _client.DeleteAsync($"/api/schedules/{name}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        await ProblemAsync(await _client.GetAsync($"/api/schedules/{name}"), HttpStatusCode.NotFound, null);
        // Delete does not touch the runs it started.
        Assert.Single((await _client.GetFromJsonAsync<JsonObject>($"/api/executions?schedule={name}"))!["tasks"]!.AsArray());
    }

    [Theory]
    [InlineData("{\"name\":\"x1\",\"cron\":\"61 * * * *\",\"task\":\"demo.noop\"}", "cron", "not a valid cron expression")]
    [InlineData("{\"name\":\"x2\",\"cron\":\"* * *\",\"task\":\"demo.noop\"}", "cron", "field(s)")]
    [InlineData("{\"name\":\"x3\",\"cron\":\"0 2 * * *\",\"timeZone\":\"Mars/Base\",\"task\":\"demo.noop\"}", "timeZone", "not a known time zone")]
    [InlineData("{\"name\":\"x4\",\"cron\":\"0 2 * * *\",\"task\":\"no.such.handler\"}", "task", "No handler")]
    [InlineData("{\"name\":\"x5\",\"cron\":\"0 2 * * *\"}", "task", "exactly one")]
    [InlineData("{\"name\":\"x6\",\"cron\":\"0 2 * * *\",\"task\":\"demo.noop\",\"overlap\":\"Sometimes\"}", "overlap", "Skip")]
    [InlineData("{\"name\":\"x7\",\"cron\":\"0 2 * * *\",\"task\":\"demo.noop\",\"catchUp\":\"Some\"}", "catchUp", "Latest")]
    [InlineData("{\"name\":\"bad name\",\"cron\":\"0 2 * * *\",\"task\":\"demo.noop\"}", "name", "letters")]
    [InlineData("{\"cron\":\"0 2 * * *\",\"task\":\"demo.noop\"}", "name", "required")]
    [InlineData("{\"name\":\"x8\",\"cron\":\"0 2 * * *\",\"command\":[\"/bin/rm\",\"-rf\"]}", "command", "Allow")]
    [InlineData("{\"name\":\"x9\",\"cron\":\"0 2 * * *\",\"dag\":{\"tasks\":{\"a\":{\"job\":{\"task\":\"demo.noop\"},\"children\":[\"nope\"]}}}}", "dag", "nope")]
    [InlineData("{\"name\":\"x10\",\"cron\":\"0 2 * * *\",\"task\":\"demo.noop\",\"startAt\":\"2030-01-02T00:00:00Z\",\"endAt\":\"2030-01-01T00:00:00Z\"}", "endAt", "after")]
    public async Task Create_BadInput_IsA400ProblemNamingTheField(string json, string field, string reason)
    {
        using var response = await _client.PostAsync("/api/schedules", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Contains(reason, (string?)problem["detail"]);
    }

    [Fact]
    public async Task Create_TakenName_IsA409_AndUnknownNamesAre404()
    {
        var name = NewName("dup");
        using var first = await _client.PostAsJsonAsync("/api/schedules", new { name, cron = "0 2 * * *", task = "demo.noop" });
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        await ProblemAsync(await _client.PostAsJsonAsync("/api/schedules", new { name, cron = "0 3 * * *", task = "demo.noop" }), HttpStatusCode.Conflict, null);
        await ProblemAsync(await _client.PostAsync("/api/schedules/no-such-schedule/trigger", null), HttpStatusCode.NotFound, null);
        await ProblemAsync(await _client.PutAsJsonAsync("/api/schedules/no-such-schedule", new { cron = "* * * * *" }), HttpStatusCode.NotFound, null);
        await _client.DeleteAsync($"/api/schedules/{name}");
    }

    [Fact]
    public async Task DagSchedule_Trigger_StartsADagRun_ThatCarriesTheSchedule_InDaggysList()
    {
        var name = NewName("dag");
        using var created = await _client.PostAsJsonAsync("/api/schedules", new
        {
            name, cron = "0 2 * * *",
            dag = new { tag = "scheduled", tasks = new { a = new { job = new { task = "demo.noop" }, children = new[] { "b" } }, b = new { job = new { task = "demo.noop" } } } },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var triggered = await _client.PostAsync($"/api/schedules/{name}/trigger", null);
        Assert.Equal(HttpStatusCode.Accepted, triggered.StatusCode);
        var runId = (long)(await triggered.Content.ReadFromJsonAsync<JsonObject>())!["firing"]!["dagRunId"]!;

        var runs = (await _client.GetFromJsonAsync<JsonArray>($"/v1/dagruns?schedule={name}"))!;
        var run = Assert.Single(runs)!;
        Assert.Equal((runId, name), ((long)run["runID"]!, (string?)run["scheduleName"]));
        // Its tasks carry the schedule too.
        Assert.Equal(2, (await _client.GetFromJsonAsync<JsonObject>($"/api/executions?schedule={name}"))!["tasks"]!.AsArray().Count);
        await _client.DeleteAsync($"/api/schedules/{name}");
    }

    [Fact]
    public async Task OpenApi_DescribesTheScheduleRoutes()
    {
        var document = await _client.GetStringAsync("/api/openapi.json");
        foreach (var route in new[] { "/api/schedules", "/api/schedules/{name}", "/api/schedules/{name}/pause", "/api/schedules/{name}/resume",
                     "/api/schedules/{name}/trigger", "/api/schedules/{name}/firings" })
            Assert.Contains($"\"{route}\"", document);
    }
}
