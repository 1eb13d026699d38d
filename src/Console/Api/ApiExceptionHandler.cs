using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Api;

/// <summary>
/// Every API error is a ProblemDetails naming what was wrong: a bad body names the field, a refused submission
/// names its field. A database that does not answer for a moment (restarting, failing over) is a 503 with Retry-After:
/// the request was fine and may be sent again. Anything unexpected is a 500 without a stack trace.
/// </summary>
public sealed class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (!ApiPaths.IsApi(http.Request.Path)) return false;
        if (Find<BadHttpRequestException>(exception) is { StatusCode: StatusCodes.Status413PayloadTooLarge }
            && http.Items[RequestLimits.LimitItem] is (long max, string key))
        {
            http.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = RequestLimits.TooLarge(max, key), Exception = exception });
        }
        var (status, title, detail, field) = exception switch
        {
            InvalidSubmissionException e => (400, "Invalid submission", e.Message, e.Field),
            Core.Schedules.ScheduleDefinitionException e => (400, "Invalid schedule", e.Message, e.Field),
            BadHttpRequestException { InnerException: JsonException j } => (400, "Malformed JSON body", j.Message, j.Path),
            BadHttpRequestException e => (400, "Bad request", e.Message, null),
            JsonException j => (400, "Malformed JSON body", j.Message, j.Path),
            // A string that parsed but is not text, read by a path no up-front check covered (JsonText covers the seed APIs' bodies).
            InvalidOperationException e when e.Message.StartsWith("Cannot read invalid UTF-16 JSON text", StringComparison.Ordinal) =>
                (400, "Malformed JSON body", JsonText.Problem, null),
            // Before the transient arm below: its inner error is one, but sending this request again could store it twice.
            _ when Find<Data.Storage.CommitOutcomeUnknownException>(exception) is { } unknown =>
                (500, "Outcome unknown", unknown.Message + "; look it up before sending the request again.", null),
            _ when Data.Storage.StorageFailure.IsUnreachable(exception) =>
                (503, "Storage unavailable", "The database did not answer (it may be restarting); send the request again in a moment.", null),
            _ => (500, "Internal error", "The server could not complete the request; the error is in its log.", null),
        };
        if (status == 500) logger.LogError(exception, "Unhandled API error on {Path}", http.Request.Path);
        if (status == 503)
        {
            logger.LogWarning("API request {Path} answered 503: the database did not answer ({Error})", http.Request.Path, exception.GetBaseException().Message);
            http.Response.Headers.RetryAfter = "1";
        }
        http.Response.StatusCode = status;
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (field is not null) problem.Extensions["field"] = field.TrimStart('$', '.');
        if (exception is InvalidSubmissionException { Limit: { } limit }) problem.Extensions["limit"] = limit;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception });
    }

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException) if (e is T found) return found;
        return null;
    }
}
