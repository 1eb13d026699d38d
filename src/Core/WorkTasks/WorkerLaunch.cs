using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.WorkTasks;

/// <summary>Where spawned workers report back: <c>Taskdeck:WorkTasks:OrchestratorUrl</c>, or the host's own address.</summary>
public interface IWorkerCallbackAddress
{
    string BaseUrl { get; }
}

public sealed class ConfiguredCallbackAddress(IOptions<WorkTaskOptions> options) : IWorkerCallbackAddress
{
    public string BaseUrl => options.Value.OrchestratorUrl ?? "http://localhost:5066";
}

/// <summary>
/// A spawned work-task worker starts with <c>WORKTASK_ID</c>, <c>ORCHESTRATOR_URL</c> and (when set) <c>WORKER_AUTH_TOKEN</c>
/// in its environment, and reports its outcome over the status route; its exit alone is not its outcome.
/// </summary>
public sealed class WorkerLaunch(IWorkerCallbackAddress address, WorkerToken token) : ICommandLaunch
{
    public ValueTask<CommandLaunch> PrepareAsync(Execution execution, int attempt, CancellationToken ct)
    {
        if (!execution.Tags.Contains(WorkTaskService.SpawnedTag)) return ValueTask.FromResult(CommandLaunch.Plain);
        var environment = new Dictionary<string, string>
        {
            ["WORKTASK_ID"] = execution.TaskId,
            ["ORCHESTRATOR_URL"] = address.BaseUrl.TrimEnd('/'),
            ["WORKTASK_ATTEMPT"] = attempt.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (token.Value is { } secret) environment["WORKER_AUTH_TOKEN"] = secret;
        return ValueTask.FromResult(new CommandLaunch(environment, ReportsOutcome: true));
    }
}
