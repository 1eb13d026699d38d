using Microsoft.AspNetCore.Mvc;
using Taskdeck.Console.WorkTasks;

namespace Taskdeck.Console.Auth;

/// <summary>How a refusal is answered: a ProblemDetails for API callers, the sign-in page for people.</summary>
public static class AuthResponses
{
    public const string LoginPath = "/login";
    public const string DeniedPath = "/access-denied";

    /// <summary>
    /// API callers (<c>/api</c>, <c>/v1</c>, <c>/ws</c>, daggy's <c>/ready</c>) get a status and a ProblemDetails; the API
    /// docs at <c>/api/docs</c> are a page a person opens, so they go to the sign-in page like every other page.
    /// </summary>
    public static bool WantsProblem(HttpContext http)
    {
        var path = http.Request.Path;
        if (path.StartsWithSegments("/api/docs")) return false;
        return path.StartsWithSegments("/api") || path.StartsWithSegments("/v1") || path.StartsWithSegments(WorkTasksApi.SocketRoute)
               || path.StartsWithSegments("/ready") || path.StartsWithSegments("/health") || path.StartsWithSegments("/_blazor");
    }

    public static Task UnauthorizedAsync(HttpContext http, string detail)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return WriteAsync(http, StatusCodes.Status401Unauthorized, "Unauthorized", detail);
    }

    public static Task ForbiddenAsync(HttpContext http, string detail) => WriteAsync(http, StatusCodes.Status403Forbidden, "Forbidden", detail);

    /// <summary>The page a person is sent to: sign in, then come back here.</summary>
    public static string LoginRedirect(HttpContext http) =>
        $"{LoginPath}?ReturnUrl={Uri.EscapeDataString(http.Request.PathBase + http.Request.Path + http.Request.QueryString)}";

    public static string DeniedRedirect(HttpContext http) =>
        $"{DeniedPath}?ReturnUrl={Uri.EscapeDataString(http.Request.PathBase + http.Request.Path + http.Request.QueryString)}";

    public static Task WriteAsync(HttpContext http, int status, string title, string detail)
    {
        if (http.Response.HasStarted) return Task.CompletedTask;
        http.Response.StatusCode = status;
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail, Extensions = { ["field"] = "Authorization" } },
        }).AsTask();
    }

    public const string NoCredentials =
        "Sign in first: send \"Authorization: Bearer <API token>\" (the console's Tokens page or `-- tokens create`), or use the console's sign-in cookie.";
}
