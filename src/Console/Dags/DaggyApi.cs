namespace Taskdeck.Console.Dags;

public static class DaggyApi
{
    /// <summary>daggy's DAG-run API (seed 002). Filled by the DAG-runs feature.</summary>
    public static IEndpointRouteBuilder MapDaggyApi(this IEndpointRouteBuilder endpoints) => endpoints;
}
