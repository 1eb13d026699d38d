using Taskdeck.Console.Auth;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Taskdeck.Console.Api;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.WorkTasks;

namespace Taskdeck.Console.WorkTasks;

/// <summary>The work-task queue API (seed 003): an adapter that translates shapes and status words for Core's <see cref="WorkTaskService"/>.</summary>
public static class WorkTasksApi
{
    public const string Route = "/api/worktasks";
    public const string SocketRoute = "/ws/tasks";

    public static IServiceCollection AddWorkTasksApi(this IServiceCollection services)
    {
        services.AddSingleton<TaskUpdateHub>();
        services.AddHostedService(sp => sp.GetRequiredService<TaskUpdateHub>());
        return services;
    }

    /// <summary>WebSockets for <c>/ws/tasks</c>, and the worker token in front of every work-task route (before any body is read).</summary>
    public static WebApplication UseWorkTasks(this WebApplication app)
    {
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        return app;
    }

    public static IEndpointRouteBuilder MapWorkTasksApi(this IEndpointRouteBuilder endpoints)
    {
        // Worker tokens (WorkerTokenHandler) or a principal with the scope, per route; authorization runs before any body is read.
        var api = endpoints.MapGroup(Route).WithTags("Work tasks");
        api.MapGet("/", QueueLengthAsync).WithName("WorkTaskQueueLength").WithSummary("Number of work tasks waiting to start").RequireAuthorization(Policies.WorkTasksRead);
        api.MapPost("/", SubmitAsync).WithName("SubmitWorkTask").WithSummary("Submit a work task").RequireAuthorization(Policies.WorkTasksSubmit).LimitedAsSubmit();
        api.MapGet("/{id}", GetAsync).WithName("GetWorkTask").WithSummary("A work task by id").RequireAuthorization(Policies.WorkTasksRead);
        api.MapPost("/{id}", UpdateStatusAsync).WithName("UpdateWorkTaskStatus").WithSummary("A worker reports its task's status").RequireAuthorization(Policies.WorkTasksReport);
        endpoints.Map(SocketRoute, TaskUpdateHub.AcceptAsync).WithName("WorkTaskUpdates").WithSummary("Live task_update messages (WebSocket)").WithTags("Work tasks")
            .RequireAuthorization(Policies.WorkTasksRead);
        return endpoints;
    }

    public static async Task<Ok<QueueLengthDto>> QueueLengthAsync(WorkTaskQueries queries, CancellationToken ct) =>
        TypedResults.Ok(new QueueLengthDto(await queries.QueueLengthAsync(ct)));

    public static async Task<Results<Created<WorkTaskDto>, ProblemHttpResult>> SubmitAsync([FromBody] JsonElement body, WorkTaskService workTasks,
        Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options, CancellationToken ct)
    {
        if (body.ValueKind != JsonValueKind.Object) return Problems.BadRequest("body", "A JSON object is required.");
        if (JsonText.Refusal(body) is { } notText) return notText;
        if (RequiredString(body, "type", out var type) is { } badType) return badType;
        if (RequiredString(body, "project_id", out var projectId) is { } badProject) return badProject;
        foreach (var field in new[] { "task_spec", "resource_requirements", "data_access" })
            if (!body.TryGetProperty(field, out var value) || value.ValueKind != JsonValueKind.Object)
                return Problems.BadRequest(field, $"\"{field}\" is required and must be a JSON object.");
        var priority = 1;
        if (body.TryGetProperty("priority", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            if (p.ValueKind != JsonValueKind.Number || !p.TryGetInt32(out priority)) return Problems.BadRequest("priority", "Must be a whole number.");
            // As the seed's source: 0 (Go's zero value, i.e. "not given") means the default, 1.
            if (priority == 0) priority = 1;
        }
        if (OptionalInt(body, "timeout_seconds", 1, out var timeout) is { } badTimeout) return badTimeout;
        if (OptionalInt(body, "max_retries", 0, out var maxRetries) is { } badRetries) return badRetries;

        Core.Executors.ResourceNeed need;
        try { need = ResourceQuantities.Parse(body.GetProperty("resource_requirements")); }
        catch (ResourceFormatException e) { return Problems.BadRequest(e.Field, e.Message); }

        try
        {
            var record = await workTasks.SubmitAsync(new WorkTaskSubmission
            {
                Type = type, ProjectId = projectId, Priority = priority,
                TaskSpecJson = body.GetProperty("task_spec").GetRawText(),
                ResourceRequirementsJson = body.GetProperty("resource_requirements").GetRawText(),
                DataAccessJson = body.GetProperty("data_access").GetRawText(),
                Resources = need, TimeoutSeconds = timeout, MaxRetries = maxRetries,
            }, ct);
            var dto = WorkTaskShape.ToDto(record, options.Value);
            return TypedResults.Created($"{Route}/{dto.WorkTaskId}", dto);
        }
        catch (InvalidSubmissionException e)
        {
            // The engine names its own fields: capacity refusals are resource_requirements here, and a binding the engine
            // cannot run (commands disabled, not allowed) is a problem of the type.
            var field = e.Field switch
            {
                "resources" or "cores" or "memoryMB" or "gpus" => "resource_requirements",
                "task" or "command" or "environment" => "type",
                "maxRetries" => "max_retries",
                "timeoutSeconds" => "timeout_seconds",
                var other => other,
            };
            return Problems.OverLimit(field, e.Message, e.Limit);
        }
    }

    public static async Task<Results<Ok<WorkTaskDto>, ProblemHttpResult>> GetAsync(string id, WorkTaskService workTasks,
        Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options, CancellationToken ct) =>
        await workTasks.FindAsync(id, ct) is { } record
            ? TypedResults.Ok(WorkTaskShape.ToDto(record, options.Value))
            : Problems.NotFound($"Work task {id} does not exist.", "worktask");

    public static async Task<Results<Ok<StatusUpdateResponse>, ProblemHttpResult>> UpdateStatusAsync(
        string id, [FromBody] JsonElement body, WorkTaskService workTasks, CancellationToken ct)
    {
        if (body.ValueKind != JsonValueKind.Object) return Problems.BadRequest("body", "A JSON object is required.");
        if (JsonText.Refusal(body) is { } notText) return notText;
        if (RequiredString(body, "worktask_id", out var bodyId) is { } badId) return badId;
        if (bodyId != id) return Problems.BadRequest("worktask_id", $"\"worktask_id\" ({bodyId}) must match the id in the path ({id}).");
        if (RequiredString(body, "status", out var status) is { } badStatus) return badStatus;
        if (!WorkTaskShape.TryParseReport(status, out var reported))
            return Problems.BadRequest("status", $"'{status}' is not a status a worker reports: use executing, completed, failed, timeout or cancelled.");
        if (OptionalString(body, "output_location", out var outputLocation) is { } badOutput) return badOutput;
        if (OptionalString(body, "error_message", out var errorMessage) is { } badError) return badError;
        if (OptionalInt(body, "attempt", 1, out var attempt) is { } badAttempt) return badAttempt;
        string? metadata = null;
        if (body.TryGetProperty("metadata", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.Object) return Problems.BadRequest("metadata", "Must be a JSON object.");
            metadata = m.GetRawText();
        }

        var result = await workTasks.ReportAsync(id, new WorkerReport(reported) { OutputLocation = outputLocation, MetadataJson = metadata, ErrorMessage = errorMessage, Attempt = attempt }, ct);
        return result.Outcome switch
        {
            ReportOutcome.Recorded => TypedResults.Ok(new StatusUpdateResponse("updated")),
            ReportOutcome.RetryScheduled => TypedResults.Ok(new StatusUpdateResponse("requeued_for_retry")),
            ReportOutcome.NotFound => Problems.NotFound(result.Message, "worktask"),
            _ => Problems.Conflict(result.Message, result.State is { } s ? WorkTaskShape.Status(s, ExecutorKind.Handler, true) : null),
        };
    }

    private static ProblemHttpResult? RequiredString(JsonElement body, string field, out string value)
    {
        value = "";
        if (!body.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString()))
            return Problems.BadRequest(field, $"\"{field}\" is required (a non-empty string).");
        value = v.GetString()!.Trim();
        return null;
    }

    private static ProblemHttpResult? OptionalString(JsonElement body, string field, out string? value)
    {
        value = null;
        if (!body.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) return Problems.BadRequest(field, "Must be a string.");
        value = v.GetString();
        return null;
    }

    private static ProblemHttpResult? OptionalInt(JsonElement body, string field, int min, out int? value)
    {
        value = null;
        if (!body.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var n) || n < min) return Problems.BadRequest(field, $"Must be a whole number, {min} or more.");
        value = n;
        return null;
    }
}
