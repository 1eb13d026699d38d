using Taskdeck.Core.Audit;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Limits;

/// <summary>
/// Bad inputs through the real app: each is refused with its status and a ProblemDetails naming the limit, stores
/// nothing (every request carries a marker no stored row may hold afterwards), and leaves a node that still runs work.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class BadInputCorpusTests(EngineHost host)
{
    private readonly HttpClient _http = host.CreateClient();

    public sealed record BadInput(string Name, string Path, Func<string, string> Body, HttpStatusCode Status, string Limit)
    {
        public override string ToString() => Name;
    }

    private static string Task(string marker, string extra) =>
        """{"task":"test.count","queue":"@0@","tags":["@1@"]@2@}""".Replace("@0@", marker).Replace("@1@", marker).Replace("@2@", extra);

    public static readonly TheoryData<BadInput> Corpus =
    [
        new("10^12-task DAG", "/v1/dagrun", DagPlannerLimitTests.TrillionTaskSpec, HttpStatusCode.BadRequest, "Taskdeck:Dags:MaxTasks"),
        new("4,000,000-edge DAG", "/v1/dagrun", DagPlannerLimitTests.FourMillionEdgeSpec, HttpStatusCode.BadRequest, "Taskdeck:Dags:MaxEdges"),
        new("DAG task with int.MaxValue retries", "/v1/dagrun",
            m => """{"tag":"@0@","tasks":{"a":{"job":{"task":"demo.noop"},"maxRetries":2147483647}}}""".Replace("@0@", m), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxRetries"),
        new("DAG task name with NUL", "/v1/dagrun",
            m => """{"tag":"@0@","tasks":{"a\u0000b":{"job":{"task":"demo.noop"}}}}""".Replace("@0@", m), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxNameLength"),
        new("DAG task name of 100,000 characters", "/v1/dagrun",
            m => """{"tag":"@0@","tasks":{"@1@":{"job":{"task":"demo.noop"}}}}""".Replace("@0@", m).Replace("@1@", new string('n', 100_000)), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxNameLength"),
        new("DAG body over 16 MB", "/v1/dagrun",
            m => """{"tag":"@0@","pad":"@1@","tasks":{"a":{"job":{"task":"demo.noop"}}}}""".Replace("@0@", m).Replace("@1@", new string('x', 16 * 1024 * 1024)), HttpStatusCode.RequestEntityTooLarge, "Taskdeck:Limits:MaxDagRequestBodyBytes"),
        new("task with int.MaxValue retries", "/api/tasks", m => Task(m, ""","maxRetries":2147483647"""), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxRetries"),
        new("task with an int.MaxValue timeout", "/api/tasks", m => Task(m, ""","timeoutSeconds":2147483647"""), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxTimeoutSeconds"),
        new("task due in the year 9999", "/api/tasks", m => Task(m, ""","runAt":"9999-01-01T00:00:00Z" """), HttpStatusCode.BadRequest, "Taskdeck:Limits:RunAtHorizonDays"),
        new("task name with NUL", "/api/tasks", m => """{"task":"test\u0000count","queue":"@0@"}""".Replace("@0@", m), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxNameLength"),
        new("task name of 100,000 characters", "/api/tasks", m => """{"task":"@0@","queue":"@1@"}""".Replace("@0@", new string('n', 100_000)).Replace("@1@", m), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxNameLength"),
        new("tag with a control character", "/api/tasks", m => """{"task":"test.count","queue":"@0@","tags":["a\u0007b"]}""".Replace("@0@", m), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxTagLength"),
        new("queue name with NUL", "/api/tasks", m => """{"task":"test.count","queue":"q\u0000","tags":["@0@"]}""".Replace("@0@", m), HttpStatusCode.BadRequest, "Taskdeck:Limits:MaxNameLength"),
        new("API body over 1 MB", "/api/tasks", m => Task(m, ""","args":{"pad":"@0@"}""".Replace("@0@", new string('x', 1024 * 1024))), HttpStatusCode.RequestEntityTooLarge, "Taskdeck:Limits:MaxRequestBodyBytes"),
    ];

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task BadInput_IsRefusedWithAProblemNamingTheLimit_StoresNothing_AndTheNodeStaysHealthy(BadInput input)
    {
        var marker = "bad" + Guid.NewGuid().ToString("N")[..12];
        using var content = new StringContent(input.Body(marker), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(input.Path, content);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(input.Status == response.StatusCode, $"{input.Name}: expected {(int)input.Status}, got {(int)response.StatusCode}: {Shorten(text)}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)input.Status, (int)problem["status"]!);
        Assert.Equal(input.Limit, (string?)problem["limit"]);
        Assert.Contains(input.Limit, (string?)problem["detail"] ?? "");

        await using (var db = await host.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync())
        {
            Assert.False(await db.DagRuns.AnyAsync(r => r.Tag == marker), "a DAG run was stored");
            Assert.False(await db.Executions.AnyAsync(e => e.Queue == marker || EF.Property<string>(e, TaskdeckDbContext.TagsText).Contains(marker)), "an execution was stored");
        }
        await AssertHealthyAsync();
    }

    [Fact]
    public async Task ADagBodyOverTheApiLimit_IsAccepted_ByTheDagRoutes()
    {
        var spec = """{"tag":"big-body","pad":"@0@","tasks":{"a":{"job":{"task":"demo.noop"}}}}""".Replace("@0@", new string('x', 2 * 1024 * 1024));
        using var response = await _http.PostAsync("/v1/dagrun/validate", new StringContent(spec, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonObject>())!["valid"]!.GetValue<bool>());
    }

    [Fact]
    public async Task DagRunList_IsPaged_WithTheNextPageInTheLinkHeader_AndRefusesAnOversizedPage()
    {
        for (var i = 0; i < 2; i++)
        {
            using var submit = await _http.PostAsync("/v1/dagrun", new StringContent("""{"tag":"paged","tasks":{"a":{"job":{"task":"demo.noop"}}}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, submit.StatusCode);
        }
        using var first = await _http.GetAsync("/v1/dagruns?all=1&limit=1");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var page = (await first.Content.ReadFromJsonAsync<JsonArray>())!;
        var id = (long)page.Single()!["runID"]!;
        var link = first.Headers.GetValues("Link").Single();
        Assert.Contains($"after={id}", link);
        var next = link[(link.IndexOf('<') + 1)..link.IndexOf('>')];
        var second = (await _http.GetFromJsonAsync<JsonArray>(next))!;
        Assert.True((long)second.Single()!["runID"]! > id);

        using var tooMany = await _http.GetAsync("/v1/dagruns?all=1&limit=100000");
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Equal("Taskdeck:Limits:MaxPageSize", (string?)(await tooMany.Content.ReadFromJsonAsync<JsonObject>())!["limit"]);
    }

    [Fact]
    public async Task ACommandFailingAtOnce_WithAHundredRetries_BacksOffAfterTheImmediateOnes()
    {
        using var submit = await _http.PostAsJsonAsync("/api/tasks", new { command = new[] { "/bin/false" }, maxRetries = 100 });
        Assert.Equal(HttpStatusCode.Accepted, submit.StatusCode);
        var id = (long)(await submit.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        // After the fourth failure the next attempt waits at least a second (then 2, 4, … up to an hour), however often
        // the node could run /bin/false meanwhile.
        var detail = await host.WaitForAsync(id, d => d.Execution.AttemptCount >= 4 && d.Execution.State == Core.Executions.ExecutionState.Scheduled,
            TimeSpan.FromSeconds(30), "the fourth failure's back-off");
        Assert.True(detail.Execution.RunAt - detail.Execution.UpdatedAt >= TimeSpan.FromSeconds(0.99), $"due {detail.Execution.RunAt:O}, updated {detail.Execution.UpdatedAt:O}");
        Assert.InRange(detail.Execution.AttemptCount, 4, 5);
        await host.Executions.CancelAsync(id, Actor.System);
    }

    private async Task AssertHealthyAsync()
    {
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/api/readyz")).StatusCode);
        var ok = await host.Executions.SubmitAsync(new Core.Executions.NewExecution { Kind = Core.Executions.ExecutorKind.Handler, Name = "test.count" });
        await host.WaitForStateAsync(ok.Id, Core.Executions.ExecutionState.Succeeded);
    }

    private static string Shorten(string text) => text.Length <= 600 ? text : text[..600] + "…";
}
