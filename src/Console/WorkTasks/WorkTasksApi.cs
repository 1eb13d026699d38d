namespace Taskdeck.Console.WorkTasks;

public static class WorkTasksApi
{
    /// <summary>The work-task queue API (seed 003). Filled by the work-tasks feature.</summary>
    public static IEndpointRouteBuilder MapWorkTasksApi(this IEndpointRouteBuilder endpoints) => endpoints;
}
