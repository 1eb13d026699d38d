using Taskdeck.Console.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Secrets;
using Taskdeck.Data.Dags;

namespace Taskdeck.Unit.Dags;

/// <summary>
/// daggy's whole-run shape built in memory from a run read whole: the reference the streamed <c>GET /v1/dagrun/{id}</c>
/// (<see cref="DagRunStream"/>) must match byte for byte. It lists each task's parents and children in ordinal order,
/// as daggy does, independently of the stream's own ordering in the database.
/// </summary>
internal static class DaggyWholeRun
{
    public static DaggyRun Of(DagRunDetail d, SecretOptions secrets)
    {
        var names = d.Tasks.ToDictionary(t => t.Id, t => t.DagTaskName ?? t.Name);
        var parents = InDaggyOrder(d.Edges.ToLookup(e => e.ChildExecutionId, e => names.GetValueOrDefault(e.ParentExecutionId, "")));
        var children = InDaggyOrder(d.Edges.ToLookup(e => e.ParentExecutionId, e => names.GetValueOrDefault(e.ChildExecutionId, "")));
        var attempts = d.Attempts.Where(a => a.FinishedAt is not null).ToLookup(a => a.ExecutionId);
        string Log(long id, int n, LogStream s) => d.Logs.GetValueOrDefault((id, n, s), "");
        return new DaggyRun(
            d.Run.Id,
            d.Run.Tag,
            d.Tasks.ToDictionary(t => names[t.Id], t => Daggy.ToTask(t, parents.GetValueOrDefault(t.Id, []), children.GetValueOrDefault(t.Id, []), secrets)),
            d.Tasks.ToDictionary(t => names[t.Id], t => Daggy.TaskState(t.State)),
            d.Tasks.ToDictionary(t => names[t.Id], t => attempts[t.Id].Select(a => Daggy.ToAttempt(a,
                Log(t.Id, a.Number, LogStream.Output), Log(t.Id, a.Number, LogStream.Error), Log(t.Id, a.Number, LogStream.Executor))).ToList()),
            d.Changes.Select(c => new DaggyStateChange(Daggy.Time(c.At), Daggy.RunState(c.State))).ToList());
    }

    private static Dictionary<long, IReadOnlyList<string>> InDaggyOrder(ILookup<long, string> names) =>
        names.ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Order(StringComparer.Ordinal).ToList());
}
