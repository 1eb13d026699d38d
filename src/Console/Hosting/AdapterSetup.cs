using Taskdeck.Console.Dags;
using Taskdeck.Console.WorkTasks;
using Taskdeck.Core.Dags;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.Hosting;

/// <summary>
/// What Core asks of the edge it runs behind, which speaks the seeds' vocabularies: the DAG format the API accepts
/// (daggy's JSON), the work-task seed's JSON inside an execution, and the address spawned workers call back on.
/// </summary>
public static class AdapterSetup
{
    public static IServiceCollection AddTaskdeckAdapters(this IServiceCollection services)
    {
        services.AddSingleton<IDagSpecReader, DaggySpecReader>();
        services.AddSingleton<IWorkTaskShapes, WorkTaskJsonShapes>();
        services.AddSingleton<IWorkerCallbackAddress, ServerCallbackAddress>();
        return services;
    }
}
