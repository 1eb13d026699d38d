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
}
