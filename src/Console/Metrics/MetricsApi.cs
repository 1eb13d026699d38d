using System.Text.Json.Serialization;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
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
/// <c>GET /api/metrics</c>, one route for two audiences, chosen by <c>Accept</c> (<see cref="Negotiate"/>): a scraper gets the
/// Prometheus text exposition (Taskdeck's <c>taskdeck_*</c> families from prometheus-net, then django-ray's
/// <c>django_ray_*</c>); a work-task client gets the seed's JSON document.
/// </summary>
public static class MetricsApi
{
    public const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

    public const string NegotiationRule =
        "Content negotiation on Accept: a Prometheus or OpenMetrics text type (text/plain, application/openmetrics-text) " +
        "ranked at least as high as JSON gives the Prometheus text exposition (version 0.0.4); application/json, or only */* " +
        "(curl's default), gives the work-task JSON document; no Accept header at all gives the Prometheus text (django-ray's client).";

    public enum Format { PrometheusText, Json }

    public static IServiceCollection AddMetricsApi(this IServiceCollection services)
    {
        services.AddSingleton<TaskdeckMetrics>();
        services.AddHostedService(sp => sp.GetRequiredService<TaskdeckMetrics>());
        return services;
    }

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder endpoints)
    {
        var metrics = endpoints.MapGet("/api/metrics", GetAsync).WithName("Metrics").WithTags("Metrics")
            .WithSummary("Prometheus text, or the work-task JSON document, by Accept")
            .WithDescription(NegotiationRule)
            .Produces<MetricsDto>(StatusCodes.Status200OK, "application/json")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                // The same 200 also comes as text: one content entry per format.
                if (operation.Responses?.TryGetValue("200", out var ok) == true && ok.Content is { } content)
                    content["text/plain"] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Prometheus text exposition 0.0.4" } };
                return Task.CompletedTask;
            });
        // Open to scrapers unless Taskdeck:Auth:ProtectMetrics is true; then it needs the read scope like the rest of the API.
        var protect = endpoints.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<Auth.AuthOptions>>().Value.ProtectMetrics;
        if (protect) metrics.RequireAuthorization(Auth.Policies.Read);
        else metrics.AllowAnonymous();
        return endpoints;
    }

    public static async Task GetAsync(HttpContext http, WorkTaskQueries queries, TaskdeckMetrics metrics, TimeProvider time, CancellationToken ct)
    {
        http.Response.Headers.Vary = HeaderNames.Accept;
        if (Negotiate(http.Request) == Format.Json)
        {
            await http.Response.WriteAsJsonAsync(await JsonAsync(queries, time, ct), ct);
            return;
        }
        http.Response.ContentType = PrometheusContentType;
        await metrics.Registry.CollectAndExportAsTextAsync(http.Response.Body, ct);
        await http.Response.WriteAsync(DjangoRayMetrics.Render(await queries.CountExecutionsByQueueAsync(ct)), ct);
    }

    public static async Task<MetricsDto> JsonAsync(WorkTaskQueries queries, TimeProvider time, CancellationToken ct)
    {
        var counts = await queries.CountWorkTasksAsync(ct);
        var byStatus = counts.GroupBy(c => WorkTaskShape.Status(c.State, c.Kind, c.WorkerStarted)).ToDictionary(g => g.Key, g => g.Sum(c => c.Count));
        var byType = counts.GroupBy(c => c.Type).ToDictionary(g => g.Key, g => g.Sum(c => c.Count));
        var queued = counts.Where(c => c.State.IsWaiting()).Sum(c => c.Count);
        return new MetricsDto(new QueueMetricsDto(queued), byStatus, byType, WorkTaskShape.Iso(time.GetUtcNow())!);
    }

    /// <summary>The rule in <see cref="NegotiationRule"/>.</summary>
    public static Format Negotiate(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        if (accept.Count == 0) return Format.PrometheusText;
        double text = 0, json = 0;
        foreach (var media in accept)
        {
            var quality = media.Quality ?? 1.0;
            if (media.MediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase)
                || media.MediaType.Equals("application/openmetrics-text", StringComparison.OrdinalIgnoreCase))
                text = Math.Max(text, quality);
            else if (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase))
                json = Math.Max(json, quality);
        }
        return text > 0 && text >= json ? Format.PrometheusText : Format.Json;
    }
}
