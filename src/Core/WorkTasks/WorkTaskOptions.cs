using Taskdeck.Core.Executions;

namespace Taskdeck.Core.WorkTasks;

/// <summary>The <c>Taskdeck:WorkTasks</c> section: what runs each work-task type.</summary>
public sealed class WorkTaskOptions
{
    public const string Section = "Taskdeck:WorkTasks";

    /// <summary>The types every install accepts; each runs externally unless <see cref="Types"/> binds it.</summary>
    public static readonly IReadOnlyList<string> BuiltInTypes = ["pipeline_execution", "ml_training", "ml_inference", "digital_twin_update", "digital_twin_processing"];

    /// <summary><c>digital_twin_processing</c> is the newer name of <c>digital_twin_update</c>: it uses that binding unless it has its own.</summary>
    public static readonly IReadOnlyDictionary<string, string> Aliases = new Dictionary<string, string> { ["digital_twin_processing"] = "digital_twin_update" };

    /// <summary>Type → binding. A type listed here that is not built in becomes accepted too.</summary>
    public Dictionary<string, WorkTaskTypeOptions> Types { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The base URL spawned workers report to (<c>ORCHESTRATOR_URL</c>); defaults to this server's own address.</summary>
    public string? OrchestratorUrl { get; set; }

    public bool IsKnown(string type) => BuiltInTypes.Contains(type) || Types.ContainsKey(type);

    public WorkTaskTypeOptions BindingFor(string type) =>
        Types.TryGetValue(type, out var own) ? own
        : Aliases.TryGetValue(type, out var target) && Types.TryGetValue(target, out var aliased) ? aliased
        : WorkTaskTypeOptions.External;

    /// <summary>As the seed's source: training jobs are expensive to repeat, so they get one retry fewer.</summary>
    public static int DefaultMaxRetries(string type) => type == "ml_training" ? 2 : 3;
}

/// <summary>
/// One type's binding: <see cref="Handler"/> (a registered .NET handler), or <see cref="Command"/> (a spawned worker that
/// reports back), or neither (external: waits for a worker outside Taskdeck). Declare an extra external type with
/// <c>"ExternalOnly": true</c>.
/// </summary>
public sealed class WorkTaskTypeOptions
{
    public static readonly WorkTaskTypeOptions External = new() { ExternalOnly = true };

    public string? Handler { get; set; }
    public List<string> Command { get; set; } = [];
    /// <summary>Only marks the type as known; an entry without a handler or command is external anyway.</summary>
    public bool ExternalOnly { get; set; }
    public int? MaxRetries { get; set; }
    public int? TimeoutSeconds { get; set; }
    public int RetryIntervalSeconds { get; set; }

    public WorkTaskBinding Binding =>
        !string.IsNullOrWhiteSpace(Handler) ? WorkTaskBinding.Handler
        : Command.Count > 0 ? WorkTaskBinding.Spawned
        : WorkTaskBinding.External;

    public ExecutorKind Kind => Binding switch
    {
        WorkTaskBinding.Handler => ExecutorKind.Handler,
        WorkTaskBinding.Spawned => ExecutorKind.Command,
        _ => ExecutorKind.External,
    };
}
