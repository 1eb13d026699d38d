using Microsoft.AspNetCore.Mvc;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.WorkTasks;

/// <summary>
/// When a worker token is configured (<c>WORKER_AUTH_TOKEN</c> or <c>Taskdeck:Auth:WorkerToken</c>), the work-task routes and
/// <c>/ws/tasks</c> demand <c>Authorization: Bearer &lt;token&gt;</c>; the WebSocket may pass <c>?access_token=</c> instead,
/// since browsers cannot set headers on it. A spawned worker's per-attempt token (<see cref="WorkerAttemptTokens"/>) is
/// accepted only for its own task while its attempt runs. Runs as middleware so that no body is read for a caller without a token.
/// </summary>
public static class WorkerAuth
{
    public static async Task RequireTokenAsync(HttpContext http, Func<Task> next)
    {
        var presented = Presented(http);
        if (WorkerAttemptTokens.LooksLikeOne(presented))
        {
            // A spawned worker's own token: its task, its attempt, while that attempt runs — nothing else, open routes or not.
            if (await AttemptTokenRefusalAsync(http, presented!) is { } refusal)
            {
                await WriteAsync(http, StatusCodes.Status403Forbidden, "Forbidden", refusal);
                return;
            }
            await next();
            return;
        }
        var token = http.RequestServices.GetRequiredService<WorkerToken>();
        if (!token.Required || token.Matches(presented))
        {
            await next();
            return;
        }
        http.Response.Headers.WWWAuthenticate = "Bearer";
        await WriteAsync(http, StatusCodes.Status401Unauthorized, "Unauthorized", "This route needs the worker token: send \"Authorization: Bearer <token>\".");
    }

    /// <summary>Why an attempt token may not make this request (null: it may).</summary>
    private static async Task<string?> AttemptTokenRefusalAsync(HttpContext http, string presented)
    {
        if (!http.Request.Path.StartsWithSegments(WorkTasksApi.Route, out var rest) || rest.Value?.Trim('/') is not { Length: > 0 } id || id.Contains('/')
            || !(HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsPost(http.Request.Method)))
            return "A spawned worker's token may only read or report its own work task (GET or POST /api/worktasks/{id}).";
        var record = await http.RequestServices.GetRequiredService<IWorkTaskStore>().FindAsync(id, http.RequestAborted);
        return record is not null && WorkerAttemptTokens.IsValidFor(record, presented)
            ? null
            : $"This worker token is not valid for work task {id}: it was given to another task, or to an attempt that has ended.";
    }

    private static Task WriteAsync(HttpContext http, int status, string title, string detail)
    {
        http.Response.StatusCode = status;
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail, Extensions = { ["field"] = "Authorization" } },
        }).AsTask();
    }

    private static string? Presented(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return header[scheme.Length..].Trim();
        if (http.Request.Path.StartsWithSegments(WorkTasksApi.SocketRoute) && http.Request.Query.TryGetValue("access_token", out var query))
            return query.ToString();
        return null;
    }
}
