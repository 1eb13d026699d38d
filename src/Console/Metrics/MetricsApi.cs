using System.Text.Json.Serialization;
using Microsoft.Net.Http.Headers;
using Taskdeck.Console.WorkTasks;
using Taskdeck.Core.Executions;
using Taskdeck.Data.WorkTasks;

namespace Taskdeck.Console.Metrics;

public sealed record QueueMetricsDto([property: JsonPropertyName("length")] int Length);

/// <summary>The work-task seed's metrics document.</summary>
public sealed record MetricsDto(
    [property: JsonPropertyName("queue")] QueueMetricsDto Queue,
    [property: JsonPropertyName("tasks_by_status")] Dictionary<string, int> TasksByStatus,
    [property: JsonPropertyName("tasks_by_type")] Dictionary<string, int> TasksByType,
    [property: JsonPropertyName("timestamp")] string Timestamp);

/// <summary>
/// <c>GET /api/metrics</c>, one route for two audiences: <c>Accept: application/json</c> gets the work-task seed's JSON;
/// anything else (a Prometheus scraper) gets the text exposition format from prometheus-net.
/// </summary>
public static class MetricsApi
{
    public const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static IServiceCollection AddMetricsApi(this IServiceCollection services)
    {
        services.AddSingleton<TaskdeckMetrics>();
        services.AddHostedService(sp => sp.GetRequiredService<TaskdeckMetrics>());
        return services;
    }

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/metrics", GetAsync).WithName("Metrics").WithTags("Metrics")
            .WithSummary("Queue and task metrics: JSON with Accept: application/json, else Prometheus text");
        return endpoints;
    }

    public static async Task GetAsync(HttpContext http, WorkTaskQueries queries, TaskdeckMetrics metrics, TimeProvider time, CancellationToken ct)
    {
        if (WantsJson(http.Request))
        {
            await http.Response.WriteAsJsonAsync(await JsonAsync(queries, time, ct), ct);
            return;
        }
        http.Response.ContentType = PrometheusContentType;
        await metrics.Registry.CollectAndExportAsTextAsync(http.Response.Body, ct);
    }

    public static async Task<MetricsDto> JsonAsync(WorkTaskQueries queries, TimeProvider time, CancellationToken ct)
    {
        var counts = await queries.CountWorkTasksAsync(ct);
        var byStatus = counts.GroupBy(c => WorkTaskShape.Status(c.State, c.Kind, c.WorkerStarted)).ToDictionary(g => g.Key, g => g.Sum(c => c.Count));
        var byType = counts.GroupBy(c => c.Type).ToDictionary(g => g.Key, g => g.Sum(c => c.Count));
        var queued = counts.Where(c => c.State.IsWaiting()).Sum(c => c.Count);
        return new MetricsDto(new QueueMetricsDto(queued), byStatus, byType, WorkTaskShape.Iso(time.GetUtcNow())!);
    }

    private static bool WantsJson(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                                                  || a.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
}
