using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Dags;
using Taskdeck.Core;
using Taskdeck.Data.Dags;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Dags;

/// <summary>
/// <c>GET /v1/dagrun/{id}</c> is streamed page by page; its bytes are exactly the JSON the whole-run shape
/// (<see cref="DaggyWholeRun"/>, built in memory from the run read whole) serializes to — with pages of one and two tasks too.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class DagRunStreamTests(EngineHost host)
{
    private readonly HttpClient _http = host.CreateClient();

    [Fact]
    public async Task StreamedRun_IsByteForByteTheWholeRunShape_AtAnyPageSize()
    {
        const string spec = """
            { "tag": "stream-pin", "parameters": { "N": [ "1", "2", "3" ] },
              "tasks": {
                "root": { "job": { "command": [ "/bin/echo", "root <&> \u00e9" ], "environment": [ "DB_PASSWORD=hunter2", "MODE=fast" ] }, "children": [ "leaf" ] },
                "leaf": { "job": { "command": [ "/bin/echo", "leaf", "{{N}}" ] }, "maxRetries": 1 },
                "failing": { "job": { "command": [ "/bin/false" ] }, "parents": [ "root" ] } } }
            """;
        using var submitted = await _http.PostAsync("/v1/dagrun", new StringContent(spec, Encoding.UTF8, "application/json"));
        Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync());
        var runId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runID").GetInt64();
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while ((await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/state")).GetProperty("state").GetString() != "ERRORED")
        {
            Assert.True(DateTime.UtcNow < until, $"DAG run {runId} did not end ERRORED in time");
            await Task.Delay(50);
        }

        var queries = host.Get<DagQueries>();
        var secrets = host.Get<IOptions<TaskdeckOptions>>().Value.Secrets;
        var json = host.Services.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        var expected = JsonSerializer.Serialize(DaggyWholeRun.Of((await queries.GetAsync(runId))!, secrets), json);
        Assert.Contains("\"leaf_0\"", expected);
        Assert.Contains("\"parents\":[\"root\"]", expected);
        Assert.Contains("DB_PASSWORD=***", expected);
        Assert.DoesNotContain("hunter2", expected);

        Assert.Equal(expected, await _http.GetStringAsync($"/v1/dagrun/{runId}"));

        var head = (await queries.GetHeadAsync(runId))!.Value;
        foreach (var size in new[] { 1, 2 })
        {
            using var buffer = new MemoryStream();
            await using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = json.Encoder }))
                await new DagRunStream(runId, queries, secrets) { TaskPage = size, StatePage = size, AttemptPage = size }
                    .WriteAsync(writer, head.Run, head.Changes, json, token => writer.FlushAsync(token), CancellationToken.None);
            Assert.Equal(expected, Encoding.UTF8.GetString(buffer.ToArray()));
        }
    }
}
