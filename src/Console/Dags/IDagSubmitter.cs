namespace Taskdeck.Console.Dags;

/// <summary>One problem of a DAG spec: where (a task name or a field) and what.</summary>
public sealed record DagProblem(string Where, string Message);

/// <summary>What a DAG submission produced: the new run, or the problems that refused it.</summary>
public sealed record DagSubmitResult(long? RunId, IReadOnlyList<DagProblem> Problems);

/// <summary>
/// What the console's Submit page needs from the DAG engine. The page hides its DAG tab while nothing implements it.
/// </summary>
public interface IDagSubmitter
{
    Task<IReadOnlyList<DagProblem>> ValidateAsync(string specJson, CancellationToken ct = default);
    Task<DagSubmitResult> SubmitAsync(string specJson, CancellationToken ct = default);
}
