using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Data.Storage;

namespace Taskdeck.Console.Health;

/// <summary>One check's outcome in a health body.</summary>
public sealed record CheckDto(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("description")] string? Description);

/// <summary>
/// django-ray's health body (<c>status</c>, <c>database</c>, <c>version</c>) plus every check by name and, when not ready,
/// the names of the checks that failed.
/// </summary>
public sealed record HealthDto(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("database")] string Database,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("failing")] IReadOnlyList<string> Failing,
    [property: JsonPropertyName("checks")] IReadOnlyDictionary<string, CheckDto> Checks);

/// <summary>The work-task server's liveness body.</summary>
public sealed record StatusDto([property: JsonPropertyName("status")] string Status);

/// <summary>
/// Health through ASP.NET Core's health checks. <c>/api/livez</c> is the process alone; <c>/api/readyz</c>,
/// <c>/api/health</c> (django-ray's shape) and <c>/health</c> (the work-task server's) run the same readiness checks
/// (<see cref="Checks"/>) and answer 503 naming the failing ones when this node cannot take work.
/// </summary>
public static class HealthApi
{
    public const string ReadyTag = "ready";

    public static class Checks
    {
        public const string Database = "database", HangfireServer = "hangfire-server", Lease = "lease", WriteQueue = "write-queue",
            ChangeFollower = "change-follower";
    }

    public static IServiceCollection AddTaskdeckHealth(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HealthOptions>().BindConfiguration(HealthOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<HealthOptions>, ValidateHealthOptions>();
        var options = configuration.GetSection(HealthOptions.Section).Get<HealthOptions>() ?? new HealthOptions();
        var timeout = TimeSpan.FromSeconds(Math.Max(1, options.TimeoutSeconds));
        string[] tags = [ReadyTag];
        var checks = services.AddHealthChecks()
            .AddCheck<DatabaseRoundTripCheck>(Checks.Database, HealthStatus.Unhealthy, tags, timeout)
            .AddCheck<LeaseCheck>(Checks.Lease, HealthStatus.Unhealthy, tags, timeout)
            .AddCheck<WriteQueueCheck>(Checks.WriteQueue, HealthStatus.Unhealthy, tags, timeout);
        var node = configuration.GetSection($"{TaskdeckOptions.Section}:Node").Get<NodeOptions>() ?? new NodeOptions();
        if (node.RunsWorkers) checks.AddCheck<HangfireServerCheck>(Checks.HangfireServer, HealthStatus.Unhealthy, tags, timeout);
        var provider = configuration.GetValue($"{TaskdeckOptions.Section}:Storage:Provider", StorageProvider.Sqlite);
        // One node on a SQLite file has no other node to follow.
        if (provider != StorageProvider.Sqlite) checks.AddCheck<ChangeFollowerCheck>(Checks.ChangeFollower, HealthStatus.Unhealthy, tags, timeout);
        return services;
    }

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder endpoints)
    {
        // Health routes are always open: load balancers and orchestrators probe them without credentials.
        var api = endpoints.MapGroup("/api").WithTags("Health").AllowAnonymous();
        api.MapGet("/livez", () => TypedResults.Ok(new { status = "alive", version = Version })).WithName("Livez").WithSummary("Process liveness (no dependency is checked)");
        api.MapGet("/readyz", ReadyAsync).WithName("Readyz")
            .WithSummary("Readiness: database write and read, Hangfire server, lease, write queue, change follower; 503 names what fails");
        api.MapGet("/health", DjangoRayHealthAsync).WithName("Health").WithSummary("django-ray's health check (the readiness checks; 503 when degraded)");
        endpoints.MapGet("/health", WorkTaskHealthAsync).WithName("WorkTaskHealth").WithTags("Health").AllowAnonymous()
            .WithSummary("The work-task server's health route: {\"status\":\"healthy\"}, sharing the readiness checks");
        return endpoints;
    }

    public static async Task<Results<Ok<HealthDto>, JsonHttpResult<HealthDto>>> ReadyAsync(HealthCheckService health, CancellationToken ct) =>
        Answer(await ReportAsync(health, ct), "unhealthy");

    public static async Task<Results<Ok<HealthDto>, JsonHttpResult<HealthDto>>> DjangoRayHealthAsync(HealthCheckService health, CancellationToken ct) =>
        Answer(await ReportAsync(health, ct), "degraded"); // django-ray's word for a failing health check

    public static async Task<Results<Ok<StatusDto>, JsonHttpResult<HealthDto>>> WorkTaskHealthAsync(HealthCheckService health, CancellationToken ct)
    {
        var report = await ReportAsync(health, ct);
        if (report.Status == HealthStatus.Healthy) return TypedResults.Ok(new StatusDto("healthy"));
        return TypedResults.Json(ToDto(report, "unhealthy"), statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static Task<HealthReport> ReportAsync(HealthCheckService health, CancellationToken ct) =>
        health.CheckHealthAsync(r => r.Tags.Contains(ReadyTag), ct);

    private static Results<Ok<HealthDto>, JsonHttpResult<HealthDto>> Answer(HealthReport report, string failedWord) =>
        report.Status == HealthStatus.Healthy
            ? TypedResults.Ok(ToDto(report, failedWord))
            : TypedResults.Json(ToDto(report, failedWord), statusCode: StatusCodes.Status503ServiceUnavailable);

    private static HealthDto ToDto(HealthReport report, string failedWord) => new(
        report.Status == HealthStatus.Healthy ? "healthy" : failedWord,
        report.Entries.TryGetValue(Checks.Database, out var db) && db.Status == HealthStatus.Healthy ? "ok" : "error",
        Version,
        report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).Select(e => e.Key).Order(StringComparer.Ordinal).ToList(),
        report.Entries.ToDictionary(e => e.Key, e => new CheckDto(e.Value.Status.ToString(), e.Value.Description)));

    /// <summary>django-ray's health bodies carry the server's version.</summary>
    private static readonly string Version =
        typeof(HealthApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
