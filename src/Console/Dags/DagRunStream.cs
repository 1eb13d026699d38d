using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Secrets;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Dags;

/// <summary>
/// <c>GET /v1/dagrun/{id}</c> written as it is read: a <see cref="Utf8JsonWriter"/> over the response body, the tasks
/// read a page at a time (three passes, one per map of daggy's shape), flushed after each page. The answer is daggy's
/// whole-run shape (<see cref="DaggyRun"/>) byte for byte; memory is a page's, not the run's (a 200,000-task run is tens of MB of JSON).
/// </summary>
public sealed class DagRunStream(long runId, DagQueries queries, SecretOptions secrets) : IResult, IEndpointMetadataProvider
{
    public int TaskPage { get; init; } = 500;
    public int StatePage { get; init; } = 5000;
    /// <summary>Each closed attempt carries its three logs (up to <c>Taskdeck:Logs:MaxBytesPerStream</c> each): a small page.</summary>
    public int AttemptPage { get; init; } = 100;

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(DaggyRun), ["application/json"]));

    public async Task ExecuteAsync(HttpContext http)
    {
        var ct = http.RequestAborted;
        var head = await queries.GetHeadAsync(runId, ct);
        if (head is not { } found)
        {
            await Api.Problems.NotFound($"DAG run {runId} does not exist.", "dagrun").ExecuteAsync(http);
            return;
        }
        var json = http.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json; charset=utf-8";
        // Over the body's PipeWriter: the serializer's own flushes only hand bytes to the pipe (no synchronous I/O);
        // each page is then sent with an awaited flush.
        var body = http.Response.BodyWriter;
        await using var writer = new Utf8JsonWriter(body, new JsonWriterOptions { Encoder = json.Encoder, Indented = json.WriteIndented });
        await WriteAsync(writer, found.Run, found.Changes, json, async token =>
        {
            writer.Flush();
            await body.FlushAsync(token);
        }, ct);
    }

    /// <summary>The whole answer onto <paramref name="writer"/>, calling <paramref name="flush"/> after every page.</summary>
    public async Task WriteAsync(Utf8JsonWriter writer, Core.Dags.DagRun run, IReadOnlyList<Core.Dags.DagRunStateChange> changes, JsonSerializerOptions json,
        Func<CancellationToken, Task> flush, CancellationToken ct)
    {
        writer.WriteStartObject();
        writer.WriteNumber("runID", run.Id);
        writer.WriteString("tag", run.Tag);

        writer.WriteStartObject("tasks");
        for (long after = 0; ;)
        {
            var page = await queries.TaskPageAsync(runId, after, TaskPage, ct);
            if (page.Count == 0) break;
            var (parents, children) = await queries.NeighbourNamesAsync(page.Select(t => t.Id).ToList(), ct);
            foreach (var task in page)
            {
                writer.WritePropertyName(task.DagTaskName ?? task.Name);
                JsonSerializer.Serialize(writer, Daggy.ToTask(task, parents.GetValueOrDefault(task.Id, []), children.GetValueOrDefault(task.Id, []), secrets), json);
            }
            after = page[^1].Id;
            await flush(ct);
            if (page.Count < TaskPage) break;
        }
        writer.WriteEndObject();

        writer.WriteStartObject("taskStates");
        for (long after = 0; ;)
        {
            var page = await queries.TaskStatePageAsync(runId, after, StatePage, ct);
            foreach (var (_, name, state) in page) writer.WriteString(name, Daggy.TaskState(state));
            if (page.Count == 0) break;
            after = page[^1].Id;
            await flush(ct);
            if (page.Count < StatePage) break;
        }
        writer.WriteEndObject();

        writer.WriteStartObject("taskAttempts");
        for (long after = 0; ;)
        {
            var page = await queries.TaskStatePageAsync(runId, after, AttemptPage, ct);
            if (page.Count == 0) break;
            var (attempts, logs) = await queries.ClosedAttemptsAsync(page.Select(t => t.Id).ToList(), ct);
            var byTask = attempts.ToLookup(a => a.ExecutionId);
            string Log(long id, int n, LogStream s) => logs.GetValueOrDefault((id, n, s), "");
            foreach (var (id, name, _) in page)
            {
                writer.WriteStartArray(name);
                foreach (var a in byTask[id])
                    JsonSerializer.Serialize(writer, Daggy.ToAttempt(a, Log(id, a.Number, LogStream.Output), Log(id, a.Number, LogStream.Error),
                        Log(id, a.Number, LogStream.Executor)), json);
                writer.WriteEndArray();
            }
            after = page[^1].Id;
            await flush(ct);
            if (page.Count < AttemptPage) break;
        }
        writer.WriteEndObject();

        writer.WritePropertyName("dagStateChanges");
        JsonSerializer.Serialize(writer, changes.Select(c => new DaggyStateChange(Daggy.Time(c.At), Daggy.RunState(c.State))).ToList(), json);
        writer.WriteEndObject();
        await flush(ct);
    }
}
