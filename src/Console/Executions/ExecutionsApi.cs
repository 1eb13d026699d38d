using Taskdeck.Console.Auth;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Taskdeck.Console.Api;
using Taskdeck.Console.Audit;
using Taskdeck.Core.Bulk;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;

namespace Taskdeck.Console.Executions;

/// <summary>django-ray's execution API (seed 000) plus Taskdeck's own submit. An adapter: shapes and state names only.</summary>
public static class ExecutionsApi
{
    private const int DefaultLimit = 50;
    private const int MaxLimit = 100;

    public static IEndpointRouteBuilder MapExecutionsApi(this IEndpointRouteBuilder endpoints)
    {
        // Each route names its policy; GETs fall under the fallback policy (read). No group-wide policy: it would add to
        // every route, and a token with only submit could not submit.
        var tasks = endpoints.MapGroup("/api/tasks").WithTags("Tasks");
        tasks.MapPost("/", SubmitAsync).WithName("SubmitTask").WithSummary("Submit a handler task (submit scope) or a command (commands scope)")
            .RequireAuthorization(Policies.Submit).LimitedAsSubmit();
        tasks.MapGet("/{taskId}", GetTaskResultAsync).WithName("GetTaskResult").WithSummary("Django task result/status by task id");

        var executions = endpoints.MapGroup("/api/executions").WithTags("Executions");
        executions.MapGet("/", ListAsync).WithName("ListExecutions").WithSummary("List task executions (cursor paging, newest first)");
        executions.MapGet("/stats", StatsAsync).WithName("ExecutionStats").WithSummary("Counts by state");
        executions.MapGet("/{id}", GetAsync).WithName("GetExecution").WithSummary("Execution details with its attempts");
        executions.MapPost("/{id}/cancel", CancelAsync).WithName("CancelExecution").WithSummary("Cancel, or request cancellation of, an execution").RequireAuthorization(Policies.Operate);
        executions.MapPost("/{id}/retry", RetryAsync).WithName("RetryExecution").WithSummary("Retry a failed, timed-out, cancelled, lost or expired execution").RequireAuthorization(Policies.Operate);
        executions.MapPost("/reset", ResetAsync).WithName("ResetExecutions").WithSummary("Reset matching executions to queued").RequireAuthorization(Policies.Operate).LimitedAsBulk();
        executions.MapPost("/bulk", BulkAsync).WithName("BulkExecutions").RequireAuthorization(Policies.Operate).LimitedAsBulk()
            .WithSummary("Cancel, retry or delete many executions (by ids or filter): 202 at once with how many it will act on; carried out in the background");
        executions.MapGet("/bulk/{bulkId:long}", GetBulkAsync).WithName("GetBulkAction").WithSummary("How far a bulk act got");
        executions.MapGet("/{id}/attempts/{attempt}/logs/{stream}", LogTextAsync).WithName("GetAttemptLog")
            .WithSummary("One log (output, error or executor) of one attempt, as plain text");
        executions.MapDelete("/{id}", DeleteAsync).WithName("DeleteExecution").WithSummary("Delete a finished execution, or cancel and delete a waiting one (a running one: 409, cancel it first)").RequireAuthorization(Policies.Operate);
        return endpoints;
    }

    public static async Task<Results<Accepted<SubmitTaskResponse>, ProblemHttpResult>> SubmitAsync(
        [FromBody] SubmitTaskRequest? body, ExecutionService executions, HttpContext http, CancellationToken ct)
    {
        if (body is null) return Problems.BadRequest("body", "A JSON body is required: {\"task\": \"<handler>\", \"args\": {…}} or {\"command\": [\"/bin/echo\", \"hi\"]}.");
        var hasTask = !string.IsNullOrWhiteSpace(body.Task);
        var hasCommand = body.Command is { Count: > 0 };
        if (hasTask == hasCommand)
            return Problems.BadRequest(hasTask ? "command" : "task", "Give exactly one of \"task\" (a registered handler) or \"command\" (argv).");
        if (await CommandGate.RefuseAsync(http, () => hasCommand, "command") is { } refused) return refused;
        if (body.Args is { } args && args.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined))
            return Problems.BadRequest("args", "\"args\" must be a JSON object.");
        RetryPolicy policy;
        switch (body.RetryOn?.ToLowerInvariant())
        {
            case null or "any" or "anyfailure": policy = RetryPolicy.AnyFailure; break;
            case "transient" or "transientonly": policy = RetryPolicy.TransientOnly; break;
            default: return Problems.BadRequest("retryOn", "Use \"any\" or \"transient\".");
        }
        if (body.QueueTimeoutSeconds is <= 0) return Problems.BadRequest("queueTimeoutSeconds", "Must be more than 0.");
        if (body.Priority is < -100 or > 100) return Problems.BadRequest("priority", "Must be between -100 and 100.");

        var spec = new NewExecution
        {
            Kind = hasTask ? ExecutorKind.Handler : ExecutorKind.Command,
            Name = hasTask ? body.Task!.Trim() : body.Command![0],
            ArgumentsJson = body.Args is { ValueKind: JsonValueKind.Object } a ? a.GetRawText() : null,
            Command = body.Command ?? [],
            Environment = body.Environment ?? [],
            WorkingDirectory = body.WorkingDirectory,
            Queue = body.Queue ?? "default",
            Priority = body.Priority ?? 0,
            MaxRetries = body.MaxRetries ?? 0,
            RetryIntervalSeconds = body.RetryIntervalSeconds ?? 0,
            ExponentialBackoff = body.ExponentialBackoff ?? false,
            RetryPolicy = policy,
            TimeoutSeconds = body.TimeoutSeconds,
            RunAt = body.RunAt,
            ExpiresAt = body.QueueTimeoutSeconds is { } q ? DateTimeOffset.UtcNow.AddSeconds(q) : null,
            Tags = body.Tags ?? [],
        };
        try
        {
            var execution = await executions.SubmitAsync(spec, http.Actor(), ct);
            return TypedResults.Accepted($"/api/executions/{execution.Id}",
                new SubmitTaskResponse(execution.Id, execution.TaskId, DjangoRay.State(execution.State), execution.State.ToString()));
        }
        catch (InvalidSubmissionException e)
        {
            return Problems.OverLimit(e.Field, e.Message, e.Limit);
        }
    }

    public static async Task<Results<Ok<TaskResultDto>, ProblemHttpResult>> GetTaskResultAsync(string taskId, ExecutionQueries queries, CancellationToken ct)
    {
        var e = await queries.FindByTaskIdAsync(taskId, ct);
        if (e is null) return Problems.NotFound($"Task {taskId} does not exist.", "task");
        var kwargs = e.ArgumentsJson is { } json ? JsonDocument.Parse(json).RootElement : JsonDocument.Parse("{}").RootElement;
        IReadOnlyList<JsonElement> args = e.Kind == ExecutorKind.Command
            ? e.Command.Skip(1).Select(c => JsonSerializer.SerializeToElement(c)).ToList()
            : [];
        return TypedResults.Ok(new TaskResultDto(e.TaskId, DjangoRay.TaskStatus(e.State), DjangoRay.State(e.State), DjangoRay.AttemptNumber(e),
            e.CreatedAt, e.StartedAt, e.FinishedAt, args, kwargs));
    }


    public static async Task<Results<Ok<ExecutionListDto>, ProblemHttpResult>> ListAsync(
        [FromQuery(Name = "state")] string? state, [FromQuery(Name = "task_name")] string? taskName, [FromQuery(Name = "queue")] string? queue,
        [FromQuery(Name = "tag")] string? tag, [FromQuery(Name = "dag_run_id")] long? dagRunId,
        [FromQuery(Name = "created_after")] DateTimeOffset? createdAfter, [FromQuery(Name = "created_before")] DateTimeOffset? createdBefore,
        [FromQuery(Name = "limit")] int? limit, [FromQuery(Name = "cursor")] string? cursor, [FromQuery(Name = "q")] string? search,
        [FromQuery(Name = "task_id")] string? taskId, [FromQuery(Name = "schedule")] string? schedule, ExecutionQueries queries, CancellationToken ct)
    {
        var take = limit ?? DefaultLimit;
        if (take is < 1 or > MaxLimit) return Problems.BadRequest("limit", $"Must be between 1 and {MaxLimit}.");
        IReadOnlyList<ExecutionState>? states = null;
        if (!string.IsNullOrWhiteSpace(state) && (states = DjangoRay.ParseStates(state)) is null)
            return Problems.BadRequest("state", $"Unknown state '{state}'. Use QUEUED, RUNNING, CANCELLING, SUCCEEDED, FAILED, CANCELLED, LOST or EXPIRED.");
        long? before = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (DecodeCursor(cursor) is not { } decoded) return Problems.BadRequest("cursor", "Invalid execution-list cursor.");
            before = decoded;
        }
        var filter = new ExecutionFilter
        {
            States = states, Name = taskName, Queue = queue, Tag = tag, DagRunId = dagRunId, CreatedFrom = createdAfter, CreatedTo = createdBefore, Search = string.IsNullOrWhiteSpace(taskId) ? search : taskId,
            Schedule = schedule,
        };
        var (items, hasMore) = await queries.NewestAsync(filter, before, take, ct);
        // As django-ray: the counts beside a page are over every execution, not the filtered ones.
        var counts = await queries.CountByStateAsync(new ExecutionFilter(), ct);
        int Count(params ExecutionState[] s) => s.Sum(x => counts.GetValueOrDefault(x));
        return TypedResults.Ok(new ExecutionListDto(
            items.Select(e => DjangoRay.ToDto(e)).ToList(),
            counts.Values.Sum(),
            Count(ExecutionState.Pending, ExecutionState.Scheduled, ExecutionState.Queued),
            Count(ExecutionState.Running),
            Count(ExecutionState.Succeeded),
            Count(ExecutionState.Failed, ExecutionState.TimedOut),
            Count(ExecutionState.Expired),
            take, items.Count, hasMore,
            hasMore ? EncodeCursor(items[^1].Id) : null));
    }

    public static async Task<Ok<StatsDto>> StatsAsync(ExecutionQueries queries, CancellationToken ct)
    {
        var counts = await queries.CountByStateAsync(new ExecutionFilter(), ct);
        int Count(params ExecutionState[] s) => s.Sum(x => counts.GetValueOrDefault(x));
        return TypedResults.Ok(new StatsDto(
            counts.Values.Sum(),
            Count(ExecutionState.Pending, ExecutionState.Scheduled, ExecutionState.Queued),
            Count(ExecutionState.Running),
            Count(ExecutionState.Succeeded),
            Count(ExecutionState.Failed, ExecutionState.TimedOut),
            Count(ExecutionState.Expired),
            Count(ExecutionState.Cancelled),
            Count(ExecutionState.Lost),
            Count(ExecutionState.Cancelling),
            counts.ToDictionary(c => c.Key.ToString(), c => c.Value)));
    }

    public static async Task<Results<Ok<ExecutionDto>, ProblemHttpResult>> GetAsync(long id, ExecutionQueries queries,
        Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options, CancellationToken ct)
    {
        var detail = await queries.GetDetailAsync(id, ct);
        return detail is null
            ? Problems.NotFound($"Execution {id} does not exist.", "execution")
            : TypedResults.Ok(DjangoRay.ToDto(detail.Execution, detail.Attempts, detail.History, options.Value.Secrets));
    }

    public static async Task<Results<FileContentHttpResult, ProblemHttpResult>> LogTextAsync(
        long id, int attempt, string stream, ExecutionQueries queries, CancellationToken ct)
    {
        if (!Enum.TryParse<LogStream>(stream, ignoreCase: true, out var which) || !Enum.IsDefined(which) || int.TryParse(stream, out _))
            return Problems.BadRequest("stream", "Use output, error or executor.");
        var attempts = await queries.AttemptsAsync(id, ct);
        if (attempts.Count == 0 && await queries.GetDetailAsync(id, ct) is null) return Problems.NotFound($"Execution {id} does not exist.", "execution");
        if (attempts.All(a => a.Number != attempt)) return Problems.NotFound($"Execution {id} has no attempt {attempt}.", "attempt");
        var text = new StringBuilder();
        long after = 0;
        while (true)
        {
            var page = await queries.LogsAsync(id, attempt, after, 5000, ct: ct);
            foreach (var entry in page.Where(l => l.Stream == which)) text.Append(entry.Text);
            if (page.Count < 5000) break;
            after = page[^1].Id;
        }
        return TypedResults.File(Encoding.UTF8.GetBytes(text.ToString()), "text/plain; charset=utf-8",
            $"execution-{id}-attempt-{attempt}-{which.ToString().ToLowerInvariant()}.log");
    }

    /// <summary>As django-ray: 200 with the execution as <c>GET /api/executions/{id}</c> shows it after the cancel.</summary>
    public static async Task<Results<Ok<ExecutionDto>, ProblemHttpResult>> CancelAsync(
        long id, ExecutionService executions, ExecutionQueries queries, Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options, HttpContext http, CancellationToken ct)
    {
        var outcome = await executions.CancelAsync(id, http.Actor(), null, ct);
        var (code, message, next) = outcome switch
        {
            { Status: ActionStatus.NotFound } => ("NOT_FOUND", "The execution was not found.", "Verify the execution identifier."),
            { AlreadyRequested: true } => ("ALREADY_REQUESTED", "Cancellation was already requested for this execution.",
                "Poll the current attempt instead of submitting a duplicate request."),
            { Done: true } => ("ACCEPTED", "Cancellation was accepted.", "Poll until the execution is CANCELLED."),
            { State: { } s } when s.IsTerminal() => ("ALREADY_TERMINAL", "The execution is already terminal and cannot be cancelled.",
                "Leave the execution unchanged; retry it if it should run again."),
            _ => ("INVALID_STATE", "The execution is not cancellable from its current state.", "Refresh the execution and inspect its lifecycle state."),
        };
        return await OutcomeAsync(outcome, code, message, next, queries, options.Value.Secrets, ct);
    }

    /// <summary>As django-ray: 200 with the execution, already showing the attempt the retry queued.</summary>
    public static async Task<Results<Ok<ExecutionDto>, ProblemHttpResult>> RetryAsync(
        long id, ExecutionService executions, ExecutionQueries queries, Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options, HttpContext http, CancellationToken ct)
    {
        var outcome = await executions.RetryAsync(id, http.Actor(), null, ct);
        var (code, message, next) = outcome switch
        {
            { Status: ActionStatus.NotFound } => ("NOT_FOUND", "The execution was not found.", "Verify the execution identifier."),
            { Done: true } => ("ACCEPTED", "A new task attempt was queued.", "Poll or inspect the newly queued attempt."),
            { State: ExecutionState.Succeeded } => ("NOT_RETRYABLE", "The execution is not retryable from its current state.",
                "Submit a new task; keep this successful execution as completed history."),
            _ => ("NOT_RETRYABLE", "The execution is not retryable from its current state.",
                "Refresh the execution and retry only a FAILED, CANCELLED, LOST, or EXPIRED state."),
        };
        return await OutcomeAsync(outcome, code, message, next, queries, options.Value.Secrets, ct);
    }

    /// <summary>
    /// django-ray deletes whatever it is asked to. Here a waiting execution is cancelled and deleted at once, a finished one
    /// is deleted, and a running one is refused (409): deleting running work without stopping it is Hangfire's trap.
    /// </summary>
    public static async Task<Results<Ok<MessageDto>, ProblemHttpResult>> DeleteAsync(long id, ExecutionService executions, HttpContext http, CancellationToken ct)
    {
        var outcome = await executions.DeleteAsync(id, http.Actor(), ct);
        return outcome.Status switch
        {
            ActionStatus.Done => TypedResults.Ok(new MessageDto($"Execution {id} deleted")),
            ActionStatus.NotFound => Problems.NotFound(outcome.Message, "execution"),
            _ => Problems.Conflict(outcome.Message, outcome.State is { } s ? DjangoRay.State(s) : null),
        };
    }

    /// <summary>
    /// django-ray's form (<c>?state=FAILED</c>) or a body with filters. A state that cannot be reset is a 422 naming those that
    /// can (django-ray's validation); no filter at all is a 400 unless the body says <c>"all": true</c>, so that an empty
    /// request cannot requeue everything by accident.
    /// </summary>
    /// <param name="state">django-ray's own form: the state to reset as a query parameter (FAILED, LOST, …).</param>
    public static async Task<Results<Ok<MessageDto>, ProblemHttpResult>> ResetAsync(
        [FromQuery(Name = "state")] string? state, [FromBody] ResetRequest? body, ExecutionService executions, BulkActions bulk, HttpContext http, CancellationToken ct)
    {
        body ??= new ResetRequest();
        var names = new List<string>(body.States ?? []);
        if (!string.IsNullOrWhiteSpace(body.State)) names.Add(body.State);
        if (!string.IsNullOrWhiteSpace(state)) names.Add(state);
        var states = new List<ExecutionState>();
        foreach (var name in names)
        {
            if (DjangoRay.ParseStates(name) is not { } parsed) return Problems.BadRequest("state", $"Unknown state '{name}'.");
            if (parsed.Any(s => !ExecutionStates.Retryable.Contains(s)))
                return Problems.WithFields(StatusCodes.Status422UnprocessableEntity, "Not resettable",
                    $"{name.Trim().ToUpperInvariant()} executions cannot be reset; the states that can are {string.Join(", ", DjangoRay.ResettableStates)}.",
                    [new("field", "state"), new("allowed", DjangoRay.ResettableStates)]);
            states.AddRange(parsed);
        }
        var filter = new ExecutionFilter
        {
            States = states.Count > 0 ? states : null, Name = body.TaskName, Queue = body.Queue, Tag = body.Tag, DagRunId = body.DagRunId,
            CreatedFrom = body.CreatedAfter, CreatedTo = body.CreatedBefore,
        };
        if (!filter.HasCriteria && body.All != true)
            return Problems.BadRequest("all", "No filter given: name a state (?state=FAILED) or other filters, or send {\"all\": true} to reset every resettable execution.");
        // Stored first and carried out in the background; a reset of at most one batch is waited for, so its answer
        // says how many were reset (django-ray's), a bigger one answers at once with how many it will reset.
        var total = await executions.CountResettableAsync(filter, ct);
        var (action, finished) = await bulk.StartAsync(new BulkAction { Kind = BulkActionKind.Reset, FilterJson = filter.ToJson(), Total = total, Reason = "reset by filter" },
            http.Actor(), waitIfAtMost: BulkActions.BatchSize, ct);
        if (finished)
            return TypedResults.Ok(new MessageDto($"Reset {action.Applied} execution(s) to QUEUED state") { Count = action.Applied });
        return TypedResults.Ok(new MessageDto($"Resetting {total} execution(s) to QUEUED state in the background") { Count = total, BulkActionId = action.Id });
    }

    /// <summary>
    /// Stored first (<see cref="BulkActions"/>), answered 202 with how many it will act on, and carried out in batches in the
    /// background — also when the client leaves, and after a restart of the node.
    /// </summary>
    public static async Task<Results<Accepted<BulkActionDto>, ProblemHttpResult>> BulkAsync([FromBody] BulkRequest? body, BulkActions bulk,
        ExecutionQueries queries, Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options, HttpContext http, CancellationToken ct)
    {
        if (body is null) return Problems.BadRequest("body", "A JSON body is required: {\"action\": \"cancel\", \"ids\": [1, 2]} or {\"action\": \"retry\", \"state\": \"FAILED\"}.");
        BulkActionKind? kind = body.Action?.Trim().ToLowerInvariant() switch
        {
            "cancel" => BulkActionKind.Cancel,
            "retry" => BulkActionKind.Retry,
            "delete" => BulkActionKind.Delete,
            _ => null,
        };
        if (kind is null) return Problems.BadRequest("action", "Use \"cancel\", \"retry\" or \"delete\".");
        IReadOnlyList<ExecutionState>? states = null;
        if (!string.IsNullOrWhiteSpace(body.State) && (states = DjangoRay.ParseStates(body.State)) is null)
            return Problems.BadRequest("state", $"Unknown state '{body.State}'.");
        var filter = new ExecutionFilter
        {
            States = states, Name = body.TaskName, Queue = body.Queue, Tag = body.Tag, DagRunId = body.DagRunId,
            CreatedFrom = body.CreatedAfter, CreatedTo = body.CreatedBefore,
        };
        var hasFilter = filter.HasCriteria;
        if (body.Ids is { Count: > 0 } && (hasFilter || body.All == true))
            return Problems.BadRequest("ids", "Give either \"ids\" or filter fields, not both.");
        if (body.Ids is not { Count: > 0 } && !hasFilter && body.All != true)
            return Problems.BadRequest("ids", "Name the executions: \"ids\", filter fields (state, task_name, queue, tag, dag_run_id, created_after, created_before), or \"all\": true.");
        var max = options.Value.Limits.MaxBulkIds;
        if (body.Ids is { Count: var n } && n > max)
            return Problems.OverLimit("ids", $"{n} ids; at most {max} may be named in one request (use a filter for more).", Core.Limits.LimitOptions.Key(nameof(Core.Limits.LimitOptions.MaxBulkIds)));
        var draft = new BulkAction { Kind = kind.Value, Reason = $"{body.Action!.Trim().ToLowerInvariant()} in bulk" };
        if (body.Ids is { Count: > 0 } ids) draft.SetIds(ids);
        else
        {
            draft.FilterJson = filter.ToJson();
            draft.Total = (await queries.CountByStateAsync(filter, ct)).Values.Sum();
        }
        var (started, _) = await bulk.StartAsync(draft, http.Actor(), ct: ct);
        return TypedResults.Accepted($"/api/executions/bulk/{started.Id}", BulkActionDto.From(started));
    }

    public static async Task<Results<Ok<BulkActionDto>, ProblemHttpResult>> GetBulkAsync(long bulkId, BulkActions bulk, CancellationToken ct) =>
        await bulk.FindAsync(bulkId, ct) is { } found ? TypedResults.Ok(BulkActionDto.From(found)) : Problems.NotFound($"Bulk action {bulkId} does not exist.", "bulk_action");

    /// <summary>Success is the execution as GET shows it; a refusal is a ProblemDetails carrying django-ray's outcome fields.</summary>
    private static async Task<Results<Ok<ExecutionDto>, ProblemHttpResult>> OutcomeAsync(
        ActionOutcome outcome, string code, string message, string next, ExecutionQueries queries, Core.Secrets.SecretOptions secrets, CancellationToken ct)
    {
        if (outcome.Done && !outcome.AlreadyRequested && await queries.GetDetailAsync(outcome.ExecutionId, ct) is { } detail)
            return TypedResults.Ok(DjangoRay.ToDto(detail.Execution, detail.Attempts, detail.History, secrets));
        var status = outcome.Status == ActionStatus.NotFound ? 404 : 409;
        var dto = new ActionOutcomeDto(code, message, outcome.ExecutionId, outcome.State is { } s ? DjangoRay.State(s) : null, null, null, next, outcome.State?.ToString());
        return Problems.WithFields(status, status == 404 ? "Not found" : "Conflict", outcome.Message, new Dictionary<string, object?>
        {
            ["code"] = dto.Code, ["message"] = dto.Message, ["execution_id"] = dto.ExecutionId, ["state"] = dto.State,
            ["execution_generation"] = null, ["next_action"] = dto.NextAction, ["taskdeck_state"] = dto.TaskdeckState,
        });
    }

    private static string EncodeCursor(long id) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"v1:{id}")).TrimEnd('=');

    private static long? DecodeCursor(string cursor)
    {
        try
        {
            var padded = cursor.PadRight(cursor.Length + (4 - cursor.Length % 4) % 4, '=');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(padded));
            return text.StartsWith("v1:") && long.TryParse(text[3..], out var id) && id > 0 ? id : null;
        }
        catch (FormatException) { return null; }
    }
}
