using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Health;

/// <summary>On multi-node storage a node that can no longer read the other nodes' changes must stop calling itself ready.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ChangeFollowerHealthTests(PostgresServer postgres)
{
    [Fact]
    public async Task StateChangesLockedAway_FailsTheChangeFollowerCheck_AndReadyzIs503NamingIt_ThenRecovers()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var node = await ConsoleProcess.StartAsync(new Dictionary<string, string>
        {
            ["Taskdeck:Storage:Provider"] = "PostgreSql",
            ["ConnectionStrings:Taskdeck"] = connection,
            ["Taskdeck:Demo:Enabled"] = "false",
            ["Taskdeck:Health:MaxChangeFollowerLagSeconds"] = "2",
        });
        await WaitForReadyzAsync(node.Http, (status, _) => status == HttpStatusCode.OK, "200");

        // Another session holds the change history exclusively: the follower's reads wait behind it and it falls behind.
        await using var blocker = new NpgsqlConnection(connection);
        await blocker.OpenAsync();
        var hold = await blocker.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("""LOCK TABLE "StateChanges" IN ACCESS EXCLUSIVE MODE""", blocker, hold))
            await command.ExecuteNonQueryAsync();

        var body = await WaitForReadyzAsync(node.Http, (status, body) => status == HttpStatusCode.ServiceUnavailable
            && body["failing"] is JsonArray failing && failing.Any(f => (string?)f == "change-follower"), "503 naming change-follower");
        Assert.Equal("Unhealthy", (string?)body["checks"]!["change-follower"]!["status"]);
        Assert.Contains("caught up", (string?)body["checks"]!["change-follower"]!["description"]);

        await hold.RollbackAsync();
        await WaitForReadyzAsync(node.Http, (status, _) => status == HttpStatusCode.OK, "200 again once the history is readable");
    }

    private static async Task<JsonObject> WaitForReadyzAsync(HttpClient client, Func<HttpStatusCode, JsonObject, bool> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        (HttpStatusCode Status, string Body) last = default;
        while (DateTime.UtcNow < until)
        {
            using var response = await client.GetAsync("/api/readyz");
            last = (response.StatusCode, await response.Content.ReadAsStringAsync());
            if (JsonNode.Parse(last.Body) is JsonObject body && condition(last.Status, body)) return body;
            await Task.Delay(200);
        }
        Assert.Fail($"/api/readyz never showed {what}; last: {(int)last.Status} {last.Body}");
        return null!;
    }
}
