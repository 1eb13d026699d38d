using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;

namespace Taskdeck.Unit.WorkTasks;

/// <summary>Without a worker token configured the seed's curl examples work as written, with no Authorization header.</summary>
[Collection(WorkTaskCollection.Name)]
public sealed class OpenWorkTaskApiTests(OpenWorkTaskApiTests.App app) : IClassFixture<OpenWorkTaskApiTests.App>
{
    public sealed class App : WorkTaskApp
    {
        protected override IEnumerable<KeyValuePair<string, string>> Overrides() => [new("Taskdeck:Auth:WorkerToken", "")];
    }

    [Fact]
    public async Task SeedCurlExamples_WithoutAToken_RoundTrip()
    {
        var client = app.CreateClient();
        Assert.Null(client.DefaultRequestHeaders.Authorization);

        var list = await client.GetAsync("/api/worktasks");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        var id = Api.Id(await Api.SubmitAsync(client, Api.SeedSubmission()));
        Assert.Equal("queued", (string?)(await Api.GetAsync(client, id))["status"]);
        var (status, body) = await Api.ReportAsync(client, id, new JsonObject
            { ["status"] = "completed", ["output_location"] = "s3://output/result.json", ["metadata"] = new JsonObject { ["records_processed"] = 1000 } });
        Assert.Equal(200, status);
        Assert.Equal("updated", (string?)body["status"]);
        Assert.Equal("completed", (string?)(await Api.GetAsync(client, id))["status"]);
        Assert.Equal(0, (int)(await client.GetFromJsonAsync<JsonObject>("/api/worktasks"))!["queue_length"]!);

        using var socket = await app.Server.CreateWebSocketClient().ConnectAsync(new Uri(app.Server.BaseAddress, "/ws/tasks"), CancellationToken.None);
        Assert.Equal(WebSocketState.Open, socket.State);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }
}
