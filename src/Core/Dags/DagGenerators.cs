using System.Text.Json;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.Dags;

/// <summary>
/// A generator task's standard output is a JSON object of new tasks in the spec's format (read by the API's
/// <see cref="IDagSpecReader"/>). Before the generator's success is recorded, they are expanded with the run's
/// parameters, validated against the run, and stored as its children (Pending until it succeeds), each inheriting the
/// generator's own children. Output that is not a valid set of tasks makes the attempt fail instead, with the reason in
/// its executor log.
/// </summary>
/// <remarks>
/// Two generators of one run finishing together would each check names against the run before the other added its
/// tasks; a per-run lock on this node makes the check and the addition one step.
/// </remarks>
public sealed class DagGenerators(IDagSpecReader reader, IDagStore store, DagService dags, ExecutionEvents events, TimeProvider time,
    Microsoft.Extensions.Options.IOptions<TaskdeckOptions> options) : IResultValidator
{
    private int MaxGenerated => options.Value.Dags.MaxGeneratedTasks;

    // Striped by run id: bounded, and two runs rarely share a stripe (sharing only serialises them a little).
    private readonly SemaphoreSlim[] _locks = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public bool AppliesTo(Execution execution) => execution.IsGenerator && execution.DagRunId is not null;

    public async Task<string?> ValidateAsync(Execution execution, int attempt, CancellationToken ct)
    {
        if (!execution.IsGenerator || execution.DagRunId is not { } runId) return null;
        var gate = _locks[(int)((ulong)runId % (ulong)_locks.Length)];
        await gate.WaitAsync(ct);
        try { return await AddGeneratedAsync(execution, attempt, runId, ct); }
        finally { gate.Release(); }
    }

    private async Task<string?> AddGeneratedAsync(Execution execution, int attempt, long runId, CancellationToken ct)
    {
        var run = await store.FindRunAsync(runId, ct);
        if (run is null) return $"generator: DAG run {runId} no longer exists";

        var output = await store.OutputTextAsync(execution.Id, attempt, ct);
        JsonDocument document;
        try { document = JsonDocument.Parse(output); }
        catch (JsonException e) { return $"generator output rejected: not valid JSON ({e.Message})"; }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return "generator output rejected: it must be a JSON object of task name → task";
            var errors = new List<string>();
            var specs = reader.ReadTasks(document.RootElement, errors);
            using var parametersJson = JsonDocument.Parse(run.ParametersJson);
            var parameters = reader.ReadParameters(parametersJson.RootElement, errors);

            var tasks = await store.TasksAsync(runId, ct);
            var edges = await store.EdgesAsync(runId, ct);
            if (await RemoveEarlierOutputAsync(run, execution.Id, tasks, edges, ct))
            {
                tasks = await store.TasksAsync(runId, ct);
                edges = await store.EdgesAsync(runId, ct);
            }
            var byId = tasks.ToDictionary(t => t.ExecutionId);
            var named = edges.Where(e => byId.ContainsKey(e.ParentExecutionId) && byId.ContainsKey(e.ChildExecutionId))
                .Select(e => (byId[e.ParentExecutionId].Name, byId[e.ChildExecutionId].Name)).ToList();
            var generator = execution.DagTaskName ?? byId[execution.Id].Name;
            var checks = dags.Checks;
            checks = checks with { Limits = checks.Limits with { MaxNewTasks = MaxGenerated, NewTasksKey = "Taskdeck:Dags:MaxGeneratedTasks" } };
            var plan = DagPlanner.Plan(specs, parameters, checks, new DagContext(tasks.Select(t => t.Name).ToHashSet(StringComparer.Ordinal), named), errors);

            var inherited = edges.Where(e => e.ParentExecutionId == execution.Id).Select(e => byId[e.ChildExecutionId].Name).ToList();
            var extra = plan.Tasks.Select(t => (generator, t.Name))
                .Concat(plan.Tasks.SelectMany(t => inherited.Select(c => (t.Name, c)))).ToList();
            var problems = plan.Errors.ToList();
            // The submitter's right to start processes decided what the spec could hold; the output may not exceed it.
            if (!run.MayRunCommands && DagService.FirstCommandTask(plan.Tasks) is { } command)
                problems.Add($"task '{command}' runs a command, but DAG run {runId} was submitted without the 'commands' scope "
                    + "(a DAG of handlers may add handler tasks only; submit it as an Admin or with a token holding 'commands').");
            var states = tasks.ToDictionary(t => t.Name, t => t.State, StringComparer.Ordinal);
            foreach (var (parent, child) in plan.Edges)
                if (states.TryGetValue(child, out var state) && state != ExecutionState.Pending)
                    problems.Add($"task '{parent}' names '{child}' as a child, but '{child}' is already {state}.");
            if (problems.Count == 0)
                problems.AddRange(DagPlanner.FindCycles(plan.Tasks.Select(t => t.Name).Concat(states.Keys), plan.Edges.Concat(extra).Concat(named)));
            if (problems.Count > 0) return "generator output rejected: " + string.Join("; ", problems.Distinct());
            if (plan.Tasks.Count == 0) return null;

            await dags.AddTasksAsync(runId, plan, extra, ct, tasks.ToDictionary(t => t.Name, t => t.ExecutionId, StringComparer.Ordinal));
            return null;
        }
    }

    /// <summary>
    /// An earlier attempt of this generator may have stored its tasks and then not succeeded: its node died, or a kill
    /// or a timeout won the race with its success. Its children that the spec does not declare and that never started
    /// are that earlier output; this attempt's output replaces them, so a generator run again after a restart or a lost
    /// lease does not trip over its own earlier tasks ("used twice") and leave them waiting forever.
    /// </summary>
    private async Task<bool> RemoveEarlierOutputAsync(DagRun run, long generatorId, IReadOnlyList<DagTaskRow> tasks, IReadOnlyList<DagEdge> edges, CancellationToken ct)
    {
        var byId = tasks.ToDictionary(t => t.ExecutionId);
        var unstartedChildren = edges
            .Where(e => e.ParentExecutionId == generatorId && byId.TryGetValue(e.ChildExecutionId, out var child) && child.State == ExecutionState.Pending && child.AttemptCount == 0)
            .Select(e => byId[e.ChildExecutionId]).ToList();
        if (unstartedChildren.Count == 0) return false;
        using var spec = JsonDocument.Parse(run.SpecJson);
        var declared = dags.Validate(spec.RootElement).Tasks.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var earlier = unstartedChildren.Where(c => !declared.Contains(c.Name)).Select(c => c.ExecutionId).ToList();
        if (earlier.Count == 0) return false;
        var removed = await store.RemoveUnstartedTasksAsync(run.Id, earlier, ct);
        foreach (var id in removed) events.Publish(new ExecutionDeleted(id, time.GetUtcNow()));
        return removed.Count > 0;
    }
}
