using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Api;

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api").WithTags("Health");
        api.MapGet("/livez", () => TypedResults.Ok(new { status = "alive", version = Version })).WithName("Livez").WithSummary("Process liveness");
        api.MapGet("/readyz", ReadyAsync).WithName("Readyz").WithSummary("Readiness: the database is reachable");
        api.MapGet("/health", ReadyAsync).WithName("Health").WithSummary("Health check");
        return endpoints;
    }

    private static async Task<IResult> ReadyAsync(IExecutionStore store, CancellationToken ct) =>
        await store.CanConnectAsync(ct)
            ? TypedResults.Ok(new { status = "healthy", database = "ok", version = Version })
            : Problems.Make(503, "Not ready", "The database is not reachable.", ("database", "error"));

    /// <summary>django-ray's health bodies carry the server's version.</summary>
    private static readonly string Version =
        typeof(HealthApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
