using Microsoft.AspNetCore.Mvc;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.WorkTasks;

/// <summary>
/// When a worker token is configured (<c>WORKER_AUTH_TOKEN</c> or <c>Taskdeck:Auth:WorkerToken</c>), the work-task routes and
/// <c>/ws/tasks</c> demand <c>Authorization: Bearer &lt;token&gt;</c>; the WebSocket may pass <c>?access_token=</c> instead,
/// since browsers cannot set headers on it. Runs as middleware so that no body is read for a caller without the token.
/// </summary>
public static class WorkerAuth
{
    public static async Task RequireTokenAsync(HttpContext http, Func<Task> next)
    {
        var token = http.RequestServices.GetRequiredService<WorkerToken>();
        if (!token.Required || token.Matches(Presented(http)))
        {
            await next();
            return;
        }
        http.Response.StatusCode = StatusCodes.Status401Unauthorized;
        http.Response.Headers.WWWAuthenticate = "Bearer";
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status401Unauthorized, Title = "Unauthorized",
                Detail = "This route needs the worker token: send \"Authorization: Bearer <token>\".",
                Extensions = { ["field"] = "Authorization" },
            },
        });
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
