using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Limits;

namespace Taskdeck.Console.Api;

/// <summary>Endpoint metadata: this route takes bodies up to the DAG limit instead of the API's default.</summary>
public sealed class DagBodyLimit
{
    public static readonly DagBodyLimit Instance = new();
}

/// <summary>
/// Request bodies of the API are bounded before they are read: the per-request Kestrel limit is set from
/// <see cref="LimitOptions.MaxRequestBodyBytes"/> (or <see cref="LimitOptions.MaxDagRequestBodyBytes"/> on DAG routes),
/// and a declared <c>Content-Length</c> over it is answered 413 at once, naming the setting, without reading a byte.
/// A chunked body that grows past it fails while being read (Kestrel's own 413), which <see cref="ApiExceptionHandler"/>
/// turns into the same ProblemDetails.
/// </summary>
public static class RequestLimits
{
    internal const string LimitItem = "taskdeck.body-limit";

    public static RouteHandlerBuilder AcceptsDagBodies(this RouteHandlerBuilder route) => route.WithMetadata(DagBodyLimit.Instance);

    public static WebApplication UseTaskdeckRequestLimits(this WebApplication app)
    {
        app.UseWhen(http => ApiPaths.IsApi(http.Request.Path), api => api.Use(async (http, next) =>
        {
            var limits = http.RequestServices.GetRequiredService<IOptions<TaskdeckOptions>>().Value.Limits;
            var dag = http.GetEndpoint()?.Metadata.GetMetadata<DagBodyLimit>() is not null;
            var (max, key) = dag
                ? (limits.MaxDagRequestBodyBytes, LimitOptions.Key(nameof(limits.MaxDagRequestBodyBytes)))
                : (limits.MaxRequestBodyBytes, LimitOptions.Key(nameof(limits.MaxRequestBodyBytes)));
            http.Items[LimitItem] = (max, key);
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = max;
            if (http.Request.ContentLength is { } length && length > max)
            {
                await Problems.WriteAsync(http, TooLarge(max, key));
                return;
            }
            await next(http);
        }));
        return app;
    }

    internal static ProblemDetails TooLarge(long max, string key)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status413PayloadTooLarge,
            Title = "Request body too large",
            Detail = $"The request body is larger than {max:N0} bytes ({key}).",
        };
        problem.Extensions["limit"] = key;
        problem.Extensions["maxBytes"] = max;
        return problem;
    }
}
