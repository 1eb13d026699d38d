using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Taskdeck.Console.Api;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Api;

/// <summary>
/// JSON that escapes half of a UTF-16 surrogate pair parses, but its string is not text: reading it threw deep inside the
/// DAG reader and answered 500. The seed APIs' whole-document bodies are refused up front naming the field; any other
/// reader's throw is a 400 too.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class UnpairedSurrogateTests(EngineHost host)
{
    private readonly HttpClient _http = host.CreateClient();

    private Task<HttpResponseMessage> PostAsync(string path, string json) =>
        _http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string? field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("surrogate", problem.GetProperty("detail").GetString());
        if (field is not null) Assert.Equal(field, problem.GetProperty("field").GetString());
    }

    [Fact]
    public async Task ADagRun_WithAnUnpairedSurrogateInAParameter_Is400_NamingIt()
    {
        await AssertRefusedAsync(await PostAsync("/v1/dagrun", """{ "tag": "t", "parameters": { "X": "a\udfffb" }, "tasks": { "a": { "job": { "task": "demo.noop" } } } }"""),
            "parameters.X");
        var validation = await (await PostAsync("/v1/dagrun/validate", """{ "tag": "t", "tasks": { "a": { "job": { "task": "demo.noop", "args": { "k": ["ok", "\ud800"] } } } } }"""))
            .Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(validation.GetProperty("valid").GetBoolean());
        Assert.Contains("tasks.a.job.args.k[1]", validation.GetRawText());
    }

    [Fact]
    public async Task AWorkTask_WithAnUnpairedSurrogateInItsSpec_Is400_NamingIt()
    {
        await AssertRefusedAsync(await PostAsync("/api/worktasks",
            """{ "type": "ml_inference", "project_id": "p", "task_spec": { "model": "\ud83d" }, "resource_requirements": {}, "data_access": {} }"""), "task_spec.model");
    }

    [Fact]
    public async Task AScheduledDag_WithAnUnpairedSurrogate_Is400()
    {
        await AssertRefusedAsync(await PostAsync("/api/schedules",
            """{ "name": "surrogate-dag", "cron": "0 3 * * *", "dag": { "tag": "t", "parameters": { "X": "\udfff" }, "tasks": { "a": { "job": { "task": "demo.noop" } } } } }"""), null);
    }

    [Fact]
    public void WellFormedPairsAndOtherEscapes_AreText()
    {
        using var document = JsonDocument.Parse("""{ "emoji": "\ud83d\ude00", "plain": "\u00e9\u4e2d", "list": ["\uD834\uDD1E"] }""");
        Assert.Null(JsonText.FirstInvalidString(document.RootElement));
    }
}
