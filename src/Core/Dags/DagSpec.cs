using System.Text.Json;

namespace Taskdeck.Core.Dags;

/// <summary>What a task runs: a process (<see cref="Command"/>) or a registered .NET handler (<see cref="Handler"/>).</summary>
public sealed record DagJob
{
    public IReadOnlyList<string> Command { get; init; } = [];
    public IReadOnlyList<string> Environment { get; init; } = [];
    public double Cores { get; init; }
    public long MemoryMB { get; init; }
    public string? Handler { get; init; }
    /// <summary>The handler's arguments as a JSON object, verbatim.</summary>
    public string? ArgsJson { get; init; }
}

/// <summary>One entry of a spec's <c>tasks</c>: before parameter expansion it may be a template.</summary>
public sealed record DagTaskSpec
{
    public required string Name { get; init; }
    public required DagJob Job { get; init; }
    public IReadOnlyList<string> Parents { get; init; } = [];
    public IReadOnlyList<string> Children { get; init; } = [];
    public int MaxRetries { get; init; }
    public int RetryIntervalSeconds { get; init; }
    public bool IsGenerator { get; init; }
}

public sealed record DagParameter(string Name, IReadOnlyList<string> Values);

/// <summary>A DAG as submitted: tag, parameters (name → values, in the order given) and tasks (in the order given).</summary>
public sealed record DagSpec(string Tag, IReadOnlyList<DagParameter> Parameters, IReadOnlyList<DagTaskSpec> Tasks);

/// <summary>
/// Reads a DAG in the API's wire shape (the Console's adapter: daggy's JSON) into <see cref="DagSpec"/>. Never throws:
/// every problem becomes one message naming the task and field, so a caller can report them all at once.
/// </summary>
public interface IDagSpecReader
{
    /// <summary>A whole spec: tag, parameters and tasks.</summary>
    DagSpec Read(JsonElement spec, List<string> errors);

    /// <summary>Tasks alone (task name → task), as a generator prints them.</summary>
    IReadOnlyList<DagTaskSpec> ReadTasks(JsonElement tasks, List<string> errors);

    /// <summary>Parameters alone (name → values), as a run keeps them for its generators.</summary>
    IReadOnlyList<DagParameter> ReadParameters(JsonElement parameters, List<string> errors);
}
