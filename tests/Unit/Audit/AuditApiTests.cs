using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Console.Audit;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Audit;

/// <summary>
/// The audit trail through the real app: each act through the API or the console's service path is recorded once,
/// with its principal, records, count and outcome, survives deleting what it names, and <c>GET /api/audit</c> filters
/// and pages it. The app is shared with other tests: every assertion is scoped to this test's own records or actors.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class AuditApiTests(EngineHost host)
{
    private readonly HttpClient _client = host.CreateClient();

    private static string NewTag() => "a" + Guid.NewGuid().ToString("N")[..10];

    private async Task<long> SubmitAsync(object body)
    {
        using var response = await _client.PostAsJsonAsync("/api/tasks", body);
        Assert.True(HttpStatusCode.Accepted == response.StatusCode, await response.Content.ReadAsStringAsync());
        return (long)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
    }

    private async Task<JsonObject> GetAsync(string url)
    {
        using var response = await _client.GetAsync(url);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private async Task<List<JsonObject>> AuditOfAsync(long executionId) =>
        (await GetAsync($"/api/audit?recordType=execution&recordId={executionId}&pageSize=200"))["items"]!.AsArray().Select(i => i!.AsObject()).Reverse().ToList();

    private static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(field, (string?)problem["field"]);
        return problem;
    }

    [Fact]
    public async Task EachApiAct_IsAuditedOnce_WithItsPrincipal_AndTheTrailOutlivesTheDeletedExecution()
    {
        var id = await SubmitAsync(new { task = "demo.noop", runAt = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.True((await _client.PostAsync($"/api/executions/{id}/cancel", null)).IsSuccessStatusCode);
        Assert.True((await _client.PostAsync($"/api/executions/{id}/retry", null)).IsSuccessStatusCode);
        await host.WaitForStateAsync(id, ExecutionState.Succeeded);

        // The operator's transitions name who asked; the engine's own (claim, succeed) name nobody.
        var history = (await GetAsync($"/api/executions/{id}"))["state_history"]!.AsArray().Select(h => ((string?)h!["transition"], (string?)h["by"])).ToList();
        Assert.Equal([("Submit", null), ("CancelWaiting", "anonymous"), ("Retry", "anonymous"), ("Claim", null), ("Succeed", (string?)null)], history);

        Assert.Equal(HttpStatusCode.OK, (await _client.DeleteAsync($"/api/executions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/api/executions/{id}")).StatusCode);

        var trail = await AuditOfAsync(id);
        Assert.Equal([AuditActions.SubmitExecution, AuditActions.Cancel, AuditActions.Retry, AuditActions.Delete], trail.Select(e => (string?)e["action"]));
        Assert.All(trail, e =>
        {
            Assert.Equal("anonymous", (string?)e["actor"]);
            Assert.Equal(nameof(ActorKind.Anonymous), (string?)e["actorKind"]);
            Assert.Equal(nameof(AuditOutcome.Applied), (string?)e["outcome"]);
            Assert.Equal(1, (int)e["count"]!);
            Assert.Equal([id.ToString()], e["recordIds"]!.AsArray().Select(i => (string?)i));
        });
    }

    [Fact]
    public async Task ARefusedAct_IsAuditedAsRefused_WithTheStateThatRefusedIt()
    {
        var id = await SubmitAsync(new { task = "demo.sleep", args = new { seconds = 60 } });
        await host.WaitForStateAsync(id, ExecutionState.Running);

        Assert.Equal(HttpStatusCode.Conflict, (await _client.PostAsync($"/api/executions/{id}/retry", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await _client.DeleteAsync($"/api/executions/{id}")).StatusCode);
        Assert.True((await _client.PostAsync($"/api/executions/{id}/cancel", null)).IsSuccessStatusCode);

        var trail = await AuditOfAsync(id);
        Assert.Equal([AuditActions.SubmitExecution, AuditActions.Retry, AuditActions.Delete, AuditActions.Cancel], trail.Select(e => (string?)e["action"]));
        Assert.All(trail.Skip(1).Take(2), e =>
        {
            Assert.Equal(nameof(AuditOutcome.Refused), (string?)e["outcome"]);
            Assert.Equal(0, (int)e["count"]!);
            Assert.Contains("Running", (string?)e["reason"]);
        });
        Assert.Equal(nameof(AuditOutcome.Applied), (string?)trail[3]["outcome"]);
    }

    [Fact]
    public async Task DeletingAWaitingExecution_CancelsAndDeletesIt_AsOneDeleteEntry()
    {
        var id = await SubmitAsync(new { task = "demo.noop", runAt = DateTimeOffset.UtcNow.AddHours(1) });

        Assert.Equal(HttpStatusCode.OK, (await _client.DeleteAsync($"/api/executions/{id}")).StatusCode);

        var trail = await AuditOfAsync(id);
        Assert.Equal([AuditActions.SubmitExecution, AuditActions.Delete], trail.Select(e => (string?)e["action"]));
        Assert.Equal(nameof(AuditOutcome.Applied), (string?)trail[1]["outcome"]);
        Assert.Null(await host.Queries.GetDetailAsync(id));
    }

    [Fact]
    public async Task Reset_IsOneEntry_WithItsFilterAndCount_NamingEachRecordReset()
    {
        var tag = NewTag();
        var ids = new List<long>();
        for (var i = 0; i < 3; i++) ids.Add(await SubmitAsync(new { task = "demo.fail", tags = new[] { tag } }));
        foreach (var id in ids) await host.WaitForStateAsync(id, ExecutionState.Failed);

        using var reset = await _client.PostAsJsonAsync("/api/executions/reset", new { tag, state = "FAILED" });
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);

        var entries = (await GetAsync($"/api/audit?action={AuditActions.Reset}&recordId={ids[0]}"))["items"]!.AsArray();
        var entry = Assert.Single(entries)!.AsObject();
        Assert.Equal(3, (int)entry["count"]!);
        Assert.Equal(nameof(AuditOutcome.Applied), (string?)entry["outcome"]);
        Assert.Equal(ids.Select(i => i.ToString()), entry["recordIds"]!.AsArray().Select(i => (string?)i));
        Assert.Contains(tag, (string?)entry["filter"]);
        Assert.Contains("Failed", (string?)entry["filter"]);
        // Each reset record's history names who reset it.
        var detail = (await host.Queries.GetDetailAsync(ids[1]))!;
        Assert.Contains(detail.History, h => h.Transition == nameof(Transition.Retry) && h.ActorName == "anonymous" && h.Reason == "reset by filter");
    }

    [Fact]
    public async Task DagActs_AreOneEntryEach_NamingTheRun_AndTheKilledTasksHistoryNamesTheActor()
    {
        using var submit = await _client.PostAsJsonAsync("/v1/dagrun", JsonNode.Parse("""{"tag":"audit-dag","tasks":{"wait":{"job":{"task":"demo.sleep","args":{"seconds":60}}}}}"""));
        Assert.Equal(HttpStatusCode.OK, submit.StatusCode);
        var runId = (long)(await submit.Content.ReadFromJsonAsync<JsonObject>())!["runID"]!;

        Assert.Equal(HttpStatusCode.OK, (await _client.DeleteAsync($"/v1/dagrun/{runId}")).StatusCode);

        var trail = (await GetAsync($"/api/audit?recordType=dagrun&recordId={runId}"))["items"]!.AsArray().Select(e => (string?)e!["action"]).Reverse();
        Assert.Equal([AuditActions.SubmitDag, AuditActions.KillDag], trail);
        var task = (await host.Get<Taskdeck.Data.Dags.DagQueries>().GetTaskAsync(runId, "wait"))!;
        var detail = await host.WaitForAsync(task.Task.Id, d => d.Execution.State == ExecutionState.Cancelled || d.History.Any(h => h.Transition == nameof(Transition.RequestCancel)));
        Assert.Contains(detail.History, h => h.Transition is nameof(Transition.RequestCancel) or nameof(Transition.CancelWaiting) && h.ActorName == "anonymous");
        // The kill itself is the one entry: its tasks' cancels are not audited again one by one.
        Assert.Empty((await GetAsync($"/api/audit?recordType=execution&recordId={task.Task.Id}&action=execution.cancel"))["items"]!.AsArray());
    }

    [Fact]
    public async Task TheConsolesServicePath_RecordsTheSignedInUser_OnceForABulkAct()
    {
        var ids = new List<long>();
        for (var i = 0; i < 2; i++) ids.Add(await SubmitAsync(new { task = "demo.noop", runAt = DateTimeOffset.UtcNow.AddHours(1) }));
        var missing = ids.Max() + 1_000_000;
        // What a console circuit has: Blazor's authentication state with the signed-in user.
        var user = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "alice")], "Cookies"));
        var actor = await new ConsoleActor(new SingleService<AuthenticationStateProvider>(new FixedAuthState(user)), new HttpContextAccessor()).CurrentAsync();
        Assert.Equal(new Actor("alice", ActorKind.User), actor);

        var outcomes = await host.Executions.CancelManyAsync([.. ids, missing], actor, "cancelled from the console");

        Assert.Equal([true, true, false], outcomes.Select(o => o.Done));
        var entry = Assert.Single((await GetAsync($"/api/audit?actor=alice&recordId={ids[0]}"))["items"]!.AsArray())!.AsObject();
        Assert.Equal(AuditActions.Cancel, (string?)entry["action"]);
        Assert.Equal(nameof(ActorKind.User), (string?)entry["actorKind"]);
        Assert.Equal(nameof(AuditOutcome.Partial), (string?)entry["outcome"]);
        Assert.Equal(2, (int)entry["count"]!);
        Assert.Equal([.. ids.Select(i => i.ToString()), missing.ToString()], entry["recordIds"]!.AsArray().Select(i => (string?)i));
        Assert.Contains($"{missing} does not exist", (string?)entry["reason"]);
        foreach (var id in ids)
            Assert.Contains((await host.Queries.GetDetailAsync(id))!.History, h => h.Transition == nameof(Transition.CancelWaiting) && h.ActorName == "alice");
    }

    [Fact]
    public async Task AuditApi_FiltersByActorKindActionOutcomeAndTime_AndPages()
    {
        var actor = "filter-" + NewTag();
        var store = host.Get<IAuditStore>();
        var t0 = new DateTimeOffset(2026, 6, 1, 8, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 5; i++)
            await store.AppendAsync(new AuditEntry
            {
                At = t0.AddMinutes(i), ActorName = actor, ActorKind = i == 4 ? ActorKind.ApiToken : ActorKind.User, Action = i % 2 == 0 ? AuditActions.Cancel : AuditActions.Retry,
                Outcome = i == 3 ? AuditOutcome.Refused : AuditOutcome.Applied, Count = 1, RecordType = AuditRecordTypes.Execution, RecordIds = $"|{900_000_000 + i}|",
            });

        async Task<int[]> Minutes(string query) =>
            (await GetAsync($"/api/audit?actor={actor}&{query}"))["items"]!.AsArray().Select(e => ((DateTimeOffset)e!["at"]!).Minute).ToArray();

        Assert.Equal(new[] { 4, 3, 2, 1, 0 }, await Minutes(""));
        Assert.Equal(new[] { 4, 2, 0 }, await Minutes("action=execution.cancel"));
        Assert.Equal(new[] { 3 }, await Minutes("outcome=refused"));
        Assert.Equal(new[] { 4 }, await Minutes("kind=ApiToken"));
        Assert.Equal(new[] { 3, 2 }, await Minutes("from=2026-06-01T08:02:00Z&to=2026-06-01T08:04:00Z"));
        Assert.Equal(new[] { 2 }, await Minutes($"recordId={900_000_002}"));

        var page = await GetAsync($"/api/audit?actor={actor}&page=2&pageSize=2");
        Assert.Equal((5, 2, 2, true), ((int)page["total"]!, (int)page["page"]!, (int)page["pageSize"]!, (bool)page["hasMore"]!));
        Assert.Equal([2, 1], page["items"]!.AsArray().Select(e => ((DateTimeOffset)e!["at"]!).Minute));
        Assert.False((bool)(await GetAsync($"/api/audit?actor={actor}&page=3&pageSize=2"))["hasMore"]!);
    }

    [Theory]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=201", "pageSize")]
    [InlineData("page=0", "page")]
    [InlineData("page=x", "page")]
    [InlineData("outcome=Maybe", "outcome")]
    [InlineData("kind=Robot", "kind")]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=soon", "to")]
    [InlineData("from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z", "to")]
    public async Task AuditApi_RefusesBadInput_WithAProblemNamingTheField(string query, string field)
    {
        using var response = await _client.GetAsync($"/api/audit?{query}");
        await AssertProblemAsync(response, field);
    }

    [Fact]
    public async Task TheOpenApiDocument_DescribesTheAuditRoute()
    {
        var document = await GetAsync("/api/openapi.json");
        var get = document["paths"]!["/api/audit"]!["get"]!.AsObject();
        Assert.Equal("ListAuditEntries", (string?)get["operationId"]);
        var parameters = get["parameters"]!.AsArray().Select(p => (string?)p!["name"]).ToList();
        Assert.Superset(new HashSet<string?> { "actor", "action", "recordId", "outcome", "from", "to", "page", "pageSize" }, parameters.ToHashSet());
    }

    private sealed class FixedAuthState(ClaimsPrincipal user) : AuthenticationStateProvider
    {
        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(user));
    }

    private sealed class SingleService<T>(T service) : IServiceProvider where T : class
    {
        public object? GetService(Type serviceType) => serviceType == typeof(T) ? service : null;
    }
}
