using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using Taskdeck.Console.Admin;
using Taskdeck.Console.Audit;
using Taskdeck.Console.CrossSite;
using Taskdeck.Console.Dags;
using Taskdeck.Console.Executions;
using Taskdeck.Console.Health;
using Taskdeck.Console.Metrics;
using Taskdeck.Console.Schedules;
using Taskdeck.Console.WorkTasks;

namespace Taskdeck.Console.Api;

public static class ApiSetup
{
    public static IServiceCollection AddTaskdeckApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddTaskdeckHealth(configuration);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Instance ??= c.HttpContext.Request.Path);
        services.AddExceptionHandler<ApiExceptionHandler>();
        // Without this a body that does not bind (maxRetries: "x") is an empty 400 outside Development;
        // thrown, it reaches ApiExceptionHandler and becomes a ProblemDetails naming the field.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddTaskdeckRateLimits(configuration);
        services.AddWorkTasksApi();
        services.AddMetricsApi();
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Taskdeck API";
            doc.Info.Description = "Executions (django-ray), DAG runs (daggy) and work tasks, on one engine.";
            return Task.CompletedTask;
        }));
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        });
        return services;
    }

    public static IEndpointRouteBuilder MapTaskdeckApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOpenApi("/api/openapi.json").RequireAuthorization(Auth.Policies.Read);
        endpoints.MapHealthApi();
        endpoints.MapExecutionsApi();
        endpoints.MapDaggyApi();
        endpoints.MapWorkTasksApi();
        endpoints.MapMetricsApi();
        endpoints.MapAuditApi();
        endpoints.MapSchedulesApi();
        endpoints.MapAntiforgeryApi();
        endpoints.MapAdminApi();
        return endpoints;
    }

    /// <summary>Swagger UI at /api/docs over the document at /api/openapi.json (as django-ray's testproject).</summary>
    public static WebApplication UseTaskdeckApiDocs(this WebApplication app)
    {
        app.UseSwaggerUI(o =>
        {
            o.RoutePrefix = "api/docs";
            o.SwaggerEndpoint("/api/openapi.json", "Taskdeck API");
            o.DocumentTitle = "Taskdeck API";
        });
        return app;
    }
}
