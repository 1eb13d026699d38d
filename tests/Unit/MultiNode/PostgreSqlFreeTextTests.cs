using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Taskdeck.Core.Limits;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// Free text from outside holding a NUL, on PostgreSQL (whose text cannot hold one): a worker's failure report with such an
/// error message answered 500 and was not recorded, and a process that printed one lost its whole log batch. Both are now
/// stored with U+FFFD in its place.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlFreeTextTests(PostgresServer postgres)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AWorkersFailureReport_WithANulInItsError_IsRecorded_AndAProcessPrintingANulKeepsItsLog()
    {
        var settings = ClusterProbe.NodeSettings(await postgres.CreateDatabaseAsync());
        settings["Taskdeck:Commands:Enabled"] = "true";
        settings["Taskdeck:Commands:Allow:0"] = "/usr/bin/printf";
        await using var node = await ConsoleProcess.StartAsync(settings);

        var submitted = await node.Http.PostAsJsonAsync("/api/worktasks", new { type = "ml_inference", project_id = "p", task_spec = new { }, resource_requirements = new { }, data_access = new { } });
        Assert.Equal(HttpStatusCode.Created, submitted.StatusCode);
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("worktask_id").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await node.Http.PostAsJsonAsync($"/api/worktasks/{id}", new { worktask_id = id, status = "executing" })).StatusCode);

        var failed = await node.Http.PostAsJsonAsync($"/api/worktasks/{id}", new { worktask_id = id, status = "failed", error_message = "segfault at \0 in libfoo" });

        Assert.Equal(HttpStatusCode.OK, failed.StatusCode);
        var task = await node.Http.GetFromJsonAsync<JsonElement>($"/api/worktasks/{id}");
        Assert.Equal("failed", task.GetProperty("status").GetString());
        Assert.Equal($"segfault at {TextRules.NulStoredAs} in libfoo", task.GetProperty("error_message").GetString());

        var command = await node.Http.PostAsJsonAsync("/api/tasks", new { command = new[] { "/usr/bin/printf", @"binary\000output\n" } });
        Assert.Equal(HttpStatusCode.Accepted, command.StatusCode);
        var execution = (await command.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await ClusterProbe.UntilAsync(async () => (await node.Http.GetFromJsonAsync<JsonElement>($"/api/executions/{execution}")).GetProperty("state").GetString() == "SUCCEEDED",
            Deadline, "the command to succeed");
        Assert.Equal($"binary{TextRules.NulStoredAs}output\n", await node.Http.GetStringAsync($"/api/executions/{execution}/attempts/1/logs/output"));
    }

    [Fact]
    public async Task ANulInAFilter_FindsNothing_ANulInANameOrDescription_IsRefusedNamingTheField_AndTheAuditKeepsItsRecord()
    {
        await using var node = await ConsoleProcess.StartAsync(ClusterProbe.NodeSettings(await postgres.CreateDatabaseAsync()));

        // Filters: every one answered 500 (PostgreSQL refuses a NUL even in a comparison).
        foreach (var query in new[] { "/api/executions?tag=a%00b", "/api/executions?queue=a%00", "/api/executions?q=a%00", "/api/audit?actor=a%00",
                     "/api/audit?recordId=a%00", "/api/schedules?q=a%00", "/v1/dagruns?tag=a%00" })
            Assert.True((await node.Http.GetAsync(query)).StatusCode == HttpStatusCode.OK, query);

        await AssertRefusedAsync(await node.Http.PostAsJsonAsync("/api/schedules", new { name = "nightly", cron = "0 3 * * *", task = "demo.noop", description = "a\0b" }), "description");
        await AssertRefusedAsync(await node.Http.PostAsJsonAsync("/api/admin/users", new { name = "eve\0", role = "Viewer", password = "a-long-enough-password" }), "name");
        await AssertRefusedAsync(await node.Http.PostAsJsonAsync("/api/admin/tokens", new { name = "ci\0", scopes = new[] { "read" } }), "name");

        // A DAG's parameters are free text: the run is accepted, and its audit record (which failed to be written) is kept.
        var run = await node.Http.PostAsync("/v1/dagrun", new StringContent("""{ "tag": "with-nul", "parameters": { "X": "a\u0000b" }, "tasks": { "a": { "job": { "task": "demo.noop" } } } }""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, run.StatusCode);
        var runId = (await run.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runID").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var audit = await node.Http.GetFromJsonAsync<JsonElement>("/api/audit?action=dagrun.submit");
        Assert.Contains(audit.GetProperty("items").EnumerateArray(), e => e.GetProperty("recordIds").EnumerateArray().Any(i => i.GetString() == runId));
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(field, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
    }
}
