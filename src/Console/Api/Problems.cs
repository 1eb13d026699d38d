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

    public static ProblemHttpResult Make(int status, string title, string detail, (string Key, object? Value) extension)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (extension.Key is not null) problem.Extensions[extension.Key] = extension.Value;
        return TypedResults.Problem(problem);
    }
}
