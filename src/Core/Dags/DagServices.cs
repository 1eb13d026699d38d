using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.Dags;

public static class DagServices
{
    /// <summary>DAG runs: the service, the scheduler that observes every transition, and the generator check.</summary>
    public static IServiceCollection AddTaskdeckDags(this IServiceCollection services)
    {
        services.AddSingleton<DagService>();
        services.AddSingleton<Bulk.BulkActions>();
        services.AddHostedService(sp => sp.GetRequiredService<Bulk.BulkActions>());
        services.AddSingleton<DagScheduler>();
        services.AddSingleton<IExecutionObserver>(sp => sp.GetRequiredService<DagScheduler>());
        services.AddSingleton<Events.IRemoteChangeObserver>(sp => sp.GetRequiredService<DagScheduler>());
        services.AddSingleton<DagGenerators>();
        services.AddSingleton<IResultValidator>(sp => sp.GetRequiredService<DagGenerators>());
        services.AddSingleton<DagReconciler>();
        services.AddHostedService(sp => sp.GetRequiredService<DagReconciler>());
        return services;
    }
}
