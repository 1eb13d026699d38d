using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Taskdeck.Console.Api;

/// <summary>ProblemDetails with the name of the field or task at fault.</summary>
public static class Problems
{
    public static ProblemHttpResult BadRequest(string field, string detail) => Make(400, "Invalid request", detail, ("field", field));

    /// <summary>A 400 refused by a configured limit: names the field and the setting (<c>limit</c>) to change.</summary>
    public static ProblemHttpResult OverLimit(string field, string detail, string? limit) => limit is null
        ? BadRequest(field, detail)
        : WithFields(400, "Limit exceeded", detail, [new("field", field), new("limit", limit)]);
    public static ProblemHttpResult NotFound(string detail, string? what = null) => Make(404, "Not found", detail, what is null ? default : ("resource", what));
    public static ProblemHttpResult Conflict(string detail, string? state = null) => Make(409, "Conflict", detail, state is null ? default : ("state", state));
    public static ProblemHttpResult Unauthorized(string detail) => Make(401, "Unauthorized", detail, default);

    /// <summary>A ProblemDetails that also carries a seed API's own error fields (django-ray's <c>code</c>, <c>next_action</c>, …).</summary>
    public static ProblemHttpResult WithFields(int status, string title, string detail, IEnumerable<KeyValuePair<string, object?>> fields)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        foreach (var (key, value) in fields) problem.Extensions[key] = value;
        return TypedResults.Problem(problem);
    }

    /// <summary>
    /// Writes a ProblemDetails outside an endpoint (middleware, authentication, the rate limiter): sets the status and goes
    /// through <see cref="IProblemDetailsService"/>, or writes the detail as plain text when no writer takes the request.
    /// Nothing is written once the response has started.
    /// </summary>
    public static Task WriteAsync(HttpContext http, int status, string title, string detail, params (string Key, object? Value)[] extensions)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        foreach (var (key, value) in extensions) problem.Extensions[key] = value;
        return WriteAsync(http, problem);
    }

    /// <summary>Writes <paramref name="problem"/> as the answer (see the overload above).</summary>
    public static async Task WriteAsync(HttpContext http, ProblemDetails problem)
    {
        if (http.Response.HasStarted) return;
        http.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        var problems = http.RequestServices.GetService<IProblemDetailsService>();
        if (problems is null || !await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem }))
        {
            http.Response.ContentType = "text/plain; charset=utf-8";
            await http.Response.WriteAsync(problem.Detail ?? problem.Title ?? "");
        }
    }

    public static ProblemHttpResult Make(int status, string title, string detail, (string Key, object? Value) extension)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (extension.Key is not null) problem.Extensions[extension.Key] = extension.Value;
        return TypedResults.Problem(problem);
    }
}
