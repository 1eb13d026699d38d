using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.WorkTasks;

/// <summary>
/// Where spawned workers report back (<c>ORCHESTRATOR_URL</c>): <c>Taskdeck:WorkTasks:OrchestratorUrl</c>, or the address
/// the host serves the work-task API on, which only the host knows.
/// </summary>
public interface IWorkerCallbackAddress
{
    string BaseUrl { get; }
}

/// <summary>
/// A spawned work-task worker starts with <c>WORKTASK_ID</c>, <c>ORCHESTRATOR_URL</c>, <c>WORKTASK_ATTEMPT</c> and
/// <c>WORKER_AUTH_TOKEN</c> — a token of its own, good for reporting this task's status during this attempt only
/// (<see cref="WorkerAttemptTokens"/>), never the shared worker token. It reports its outcome over the status route; its
/// exit alone is not its outcome. Only an execution that is a work task of a type an admin bound to a command
/// (<c>Taskdeck:WorkTasks:Types:&lt;type&gt;:Command</c>) gets any of this: a tag on a command submitted elsewhere does not.
/// </summary>
public sealed class WorkerLaunch(IWorkerCallbackAddress address, IWorkTaskStore store, IOptions<WorkTaskOptions> types) : ICommandLaunch
{
    public async ValueTask<CommandLaunch> PrepareAsync(Execution execution, int attempt, CancellationToken ct)
    {
        // The tag only spares ordinary commands a lookup; what decides is the work-task row and the admin's binding.
        if (execution.Kind != ExecutorKind.Command || !execution.Tags.Contains(WorkTaskService.SpawnedTag)) return CommandLaunch.Plain;
        var record = await store.FindByExecutionAsync(execution.Id, ct);
        if (record is null || record.Task.Binding != WorkTaskBinding.Spawned || types.Value.BindingFor(record.Task.Type).Binding != WorkTaskBinding.Spawned)
            return CommandLaunch.Plain;

        var token = WorkerAttemptTokens.Create();
        await store.SetWorkerTokenAsync(execution.Id, attempt, Access.SecretTokens.Hash(token), ct);
        var environment = new Dictionary<string, string>
        {
            ["WORKTASK_ID"] = execution.TaskId,
            ["ORCHESTRATOR_URL"] = address.BaseUrl.TrimEnd('/'),
            ["WORKTASK_ATTEMPT"] = attempt.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WORKER_AUTH_TOKEN"] = token,
        };
        return new CommandLaunch(environment, ReportsOutcome: true);
    }
}

/// <summary>
/// Tokens for one spawned worker's attempt: random, kept only as a SHA-256 hash beside the work task, and accepted only
/// for that work task while that attempt is its current one and still running — dead once the attempt ends, whatever
/// the row still holds.
/// </summary>
public static class WorkerAttemptTokens
{
    /// <summary>Tells an attempt token from the shared worker token at a glance (and in a leaked log).</summary>
    public const string Prefix = "tdw_";

    public static string Create() => Access.SecretTokens.New(Prefix);

    public static bool LooksLikeOne(string? presented) => presented?.StartsWith(Prefix, StringComparison.Ordinal) == true;

    /// <summary>Whether <paramref name="presented"/> is the live token of this work task's current attempt.</summary>
    public static bool IsValidFor(WorkTaskRecord record, string presented)
    {
        var task = record.Task;
        if (task.WorkerTokenHash is not { } stored || task.WorkerTokenAttempt != record.Execution.AttemptCount) return false;
        if (record.Execution.State is not (ExecutionState.Running or ExecutionState.Cancelling)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Access.SecretTokens.Hash(presented)), Encoding.ASCII.GetBytes(stored));
    }
}
