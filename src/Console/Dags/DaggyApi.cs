using Taskdeck.Console.Auth;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Taskdeck.Console.Api;
using Taskdeck.Console.Audit;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Dags;

/// <summary>daggy's DAG-run API (seed 002): an adapter over <see cref="DagService"/> and <see cref="DagQueries"/>.</summary>
public static class DaggyApi
{
    public static IEndpointRouteBuilder MapDaggyApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/ready", Ready).WithTags("DAG runs").WithName("DaggyReady").WithSummary("Ready check").AllowAnonymous();

        // Each route names its policy; GETs fall under the fallback policy (read). No group-wide policy: it would add to
        // every route, and a token with only submit could not submit.
        var v1 = endpoints.MapGroup("/v1").WithTags("DAG runs");
        v1.MapGet("/dagruns", ListAsync).WithName("ListDagRuns")
            .WithSummary("Active DAG runs (?all=1: every run; ?schedule=name: the runs a schedule started), oldest first, a page at a time (?limit, ?after; the next page is in the Link header)");
        v1.MapPost("/dagrun", SubmitAsync).WithName("SubmitDagRun").WithSummary("Submit a DAG for execution (a DAG with commands needs the commands scope)")
            .AcceptsDagBodies().RequireAuthorization(Policies.Submit).LimitedAsSubmit();
        v1.MapPost("/dagrun/validate", ValidateAsync).WithName("ValidateDag").WithSummary("Validate a DAG without running it").AcceptsDagBodies();
        v1.MapGet("/dagrun/{runId:long}", GetAsync).WithName("GetDagRun").WithSummary("Full state of a DAG run");
        v1.MapDelete("/dagrun/{runId:long}", KillAsync).WithName("KillDagRun").WithSummary("Kill a DAG run").RequireAuthorization(Policies.Operate).LimitedAsBulk();
        v1.MapGet("/dagrun/{runId:long}/state", GetStateAsync).WithName("GetDagRunState").WithSummary("Current state of a DAG run");
        v1.MapPatch("/dagrun/{runId:long}/state/{state}", SetStateAsync).WithName("SetDagRunState")
            .WithSummary("Set the state of a DAG run: QUEUED restarts an ERRORED or KILLED run, KILLED kills it").RequireAuthorization(Policies.Operate).LimitedAsBulk();
        v1.MapGet("/dagrun/{runId:long}/task/{taskName}", GetTaskAsync).WithName("GetDagTask").WithSummary("A task's definition");
        v1.MapDelete("/dagrun/{runId:long}/task/{taskName}", KillTaskAsync).WithName("KillDagTask").WithSummary("Kill one task").RequireAuthorization(Policies.Operate);
        v1.MapGet("/dagrun/{runId:long}/task/{taskName}/state", GetTaskStateAsync).WithName("GetDagTaskState").WithSummary("A task's current state");
        return endpoints;
    }

    public static Ok<DaggyReady> Ready() => TypedResults.Ok(new DaggyReady("Ya like DAGs?"));

    /// <summary>
    /// daggy answers a bare array, and its clients read one: the page stays an array (at most
    /// <c>Taskdeck:Limits:MaxPageSize</c> runs, oldest first) and the next page's address rides in a <c>Link</c> header.
    /// <c>?schedule=name</c> (Taskdeck's own) lists the runs a schedule started, in every state unless <c>all=0</c>.
    /// </summary>
    public static async Task<Results<Ok<List<DaggyRunSummary>>, ProblemHttpResult>> ListAsync([FromQuery(Name = "all")] string? all,
        [FromQuery(Name = "limit")] int? limit, [FromQuery(Name = "after")] long? after, [FromQuery(Name = "schedule")] string? schedule, DagQueries queries,
        Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options, HttpContext http, CancellationToken ct)
    {
        var max = options.Value.Limits.MaxPageSize;
        var take = limit ?? max;
        if (take < 1 || take > max)
            return Problems.OverLimit("limit", $"limit must be between 1 and {max}.", Core.Limits.LimitOptions.Key(nameof(Core.Limits.LimitOptions.MaxPageSize)));
        var everything = all is null ? !string.IsNullOrWhiteSpace(schedule) : all is not ("0" or "false" or "False");
        var runs = await queries.ListAsync(everything, ct, after ?? 0, take + 1, schedule);
        if (runs.Count > take)
        {
            runs = runs.Take(take).ToList();
            var next = $"/v1/dagruns?{(everything ? "all=1&" : "")}{(string.IsNullOrWhiteSpace(schedule) ? "" : $"schedule={Uri.EscapeDataString(schedule)}&")}limit={take}&after={runs[^1].Run.Id}";
            http.Response.Headers.Append("Link", $"<{next}>; rel=\"next\"");
        }
        return TypedResults.Ok(runs.Select(Daggy.ToSummary).ToList());
    }

    public static async Task<Results<Ok<DaggyRunId>, ProblemHttpResult>> SubmitAsync([FromBody] JsonElement spec, DagService dags, HttpContext http, CancellationToken ct)
    {
        if (JsonText.Refusal(spec) is { } notText) return notText;
        var (refused, mayRunCommands) = await CommandGate.RefuseDagAsync(http, () => dags.FirstCommandTask(spec));
        if (refused is not null) return refused;
        var submission = await dags.SubmitAsync(spec, http.Actor(), mayRunCommands, ct);
        if (submission.RunId is { } runId) return TypedResults.Ok(new DaggyRunId(runId));
        return Invalid(submission.Errors, submission.Limit);
    }

    public static async Task<Ok<DaggyValidation>> ValidateAsync([FromBody] JsonElement spec, DagService dags, CancellationToken ct)
    {
        if (JsonText.ProblemIn(spec) is { } notText) return TypedResults.Ok(new DaggyValidation(false, [notText]));
        var plan = await dags.ValidateAsync(spec, ct);
        return TypedResults.Ok(plan.Valid ? new DaggyValidation(true, null) : new DaggyValidation(false, plan.Errors));
    }

    /// <summary>Streamed (<see cref="DagRunStream"/>): a 200,000-task run is written page by page, never held whole.</summary>
    public static DagRunStream GetAsync(long runId, DagQueries queries, Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options) =>
        new(runId, queries, options.Value.Secrets);

    public static async Task<Results<Ok<DaggyRunId>, ProblemHttpResult>> KillAsync(long runId, DagService dags, HttpContext http, CancellationToken ct) =>
        ToResult(runId, await dags.KillAsync(runId, http.Actor(), ct));

    public static async Task<Results<Ok<DaggyState>, ProblemHttpResult>> GetStateAsync(long runId, IDagStore store, CancellationToken ct)
    {
        var run = await store.FindRunAsync(runId, ct);
        return run is null ? RunNotFound(runId) : TypedResults.Ok(new DaggyState(Daggy.RunState(run.State)));
    }

    public static async Task<Results<Ok<DaggyRunId>, ProblemHttpResult>> SetStateAsync(long runId, string state, DagService dags, HttpContext http, CancellationToken ct)
    {
        switch (Daggy.ParseRunState(state))
        {
            case DagRunState.Queued: return ToResult(runId, await dags.RestartAsync(runId, http.Actor(), ct));
            case DagRunState.Killed: return ToResult(runId, await dags.KillAsync(runId, http.Actor(), ct));
            case null: return Problems.BadRequest("state", $"Unknown DAG run state '{state}'. Use QUEUED (restart) or KILLED.");
            case var other:
                return Problems.Conflict($"A DAG run cannot be set to {Daggy.RunState(other.Value)}; use QUEUED to restart it or KILLED to kill it.", Daggy.RunState(other.Value));
        }
    }

    public static async Task<Results<Ok<DaggyTask>, ProblemHttpResult>> GetTaskAsync(long runId, string taskName, DagQueries queries,
        Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options, CancellationToken ct)
    {
        var task = await queries.GetTaskAsync(runId, taskName, ct);
        if (task is not null) return TypedResults.Ok(Daggy.ToTask(task.Task, task.Parents, task.Children, options.Value.Secrets));
        return await queries.RunExistsAsync(runId, ct) ? TaskNotFound(runId, taskName) : RunNotFound(runId);
    }

    public static async Task<Results<Ok<DaggyRunId>, ProblemHttpResult>> KillTaskAsync(long runId, string taskName, DagService dags, HttpContext http, CancellationToken ct) =>
        ToResult(runId, await dags.KillTaskAsync(runId, taskName, http.Actor(), ct), taskName);

    public static async Task<Results<Ok<DaggyState>, ProblemHttpResult>> GetTaskStateAsync(long runId, string taskName, IDagStore store, CancellationToken ct)
    {
        var task = await store.FindTaskAsync(runId, taskName, ct);
        if (task is not null) return TypedResults.Ok(new DaggyState(Daggy.TaskState(task.State)));
        return await store.FindRunAsync(runId, ct) is null ? RunNotFound(runId) : TaskNotFound(runId, taskName);
    }

    private static ProblemHttpResult Invalid(IReadOnlyList<string> errors, string? limit)
    {
        var problem = new ProblemDetails
        {
            Status = 400,
            Title = limit is null ? "Invalid DAG" : "DAG over a limit",
            Detail = string.Join(" ", errors),
        };
        var (field, task) = AtFault(errors.Count > 0 ? errors[0] : "");
        problem.Extensions["field"] = field;
        if (task is not null) problem.Extensions["task"] = task;
        problem.Extensions["errors"] = errors;
        if (limit is not null) problem.Extensions["limit"] = limit;
        return TypedResults.Problem(problem);
    }

    /// <summary>
    /// The field (and task, as the command gate names it) the first error is about: the reader's messages start with their
    /// subject — <c>task 'x': …</c>, <c>parameter 'X': …</c>, <c>"tag" …</c>.
    /// </summary>
    internal static (string Field, string? Task) AtFault(string error)
    {
        // A name may hold a quote: it ends where the quote is followed by the rest of the sentence.
        if (error.StartsWith("task '", StringComparison.Ordinal) && new[] { error.IndexOf("': ", 6, StringComparison.Ordinal), error.IndexOf("' ", 6, StringComparison.Ordinal) }
                .Where(i => i > 6).DefaultIfEmpty(-1).Min() is var end and > 6)
            return ("tasks", error[6..end]);
        if (error.StartsWith("parameter", StringComparison.Ordinal) || error.StartsWith("\"parameters\"", StringComparison.Ordinal)) return ("parameters", null);
        if (error.StartsWith("\"tag\"", StringComparison.Ordinal)) return ("tag", null);
        return ("tasks", null);
    }

    private static ProblemHttpResult RunNotFound(long runId) => Problems.NotFound($"DAG run {runId} does not exist.", "dagrun");

    private static ProblemHttpResult TaskNotFound(long runId, string taskName) =>
        Problems.Make(404, "Not found", $"DAG run {runId} has no task '{taskName}'.", ("task", taskName));

    private static Results<Ok<DaggyRunId>, ProblemHttpResult> ToResult(long runId, DagActionOutcome outcome, string? taskName = null) => outcome.Status switch
    {
        // 200 as daggy answers (its clients check for it), with what the act will do; it goes on if the client leaves.
        ActionStatus.Done => TypedResults.Ok(new DaggyRunId(runId) { Tasks = outcome.Tasks, BulkActionId = outcome.BulkActionId, Done = outcome.BulkActionId is null ? null : outcome.Finished }),
        ActionStatus.NotFound => outcome.Subject == "task" && taskName is not null ? TaskNotFound(runId, taskName) : RunNotFound(runId),
        _ => Problems.Conflict(outcome.Message, outcome.State is { } s ? Daggy.RunState(s) : null),
    };
}
