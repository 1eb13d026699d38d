using Hangfire.Logging;
using Hangfire.Server;

namespace Taskdeck.Core.Dispatch.HangfireQueue;

/// <summary>
/// Tells a running job its own Hangfire id: every claim is made in the name of the job it runs in, so the record names
/// the job that ran it — also one a worker took on with no job of its own (see <see cref="ExecutionDispatcher.Continuation"/>),
/// or one whose dispatcher's note of its job was skipped on a cluster. A filter rather than a job parameter: jobs already
/// stored in a durable storage keep their method's signature.
/// When the job ends, the executions it took on are named in its <see cref="TookOnParameter"/> parameter: a DAG chain runs
/// in its root's job, and Hangfire's dashboard would otherwise show that job as running its root alone. (Taken on, not
/// necessarily run: one cancelled or claimed elsewhere meanwhile is skipped like any execution of a batch.)
/// </summary>
public sealed class CurrentJobFilter : IServerFilter
{
    public const string TookOnParameter = "TookOnExecutions";

    private static readonly AsyncLocal<RunningJob?> Current = new();

    /// <summary>The Hangfire job whose method runs in this flow, or null outside one.</summary>
    public static string? JobId => Current.Value?.Id;

    /// <summary>The job running in this flow takes on an execution it was handed; a no-op outside a job.</summary>
    public static void NoteTookOn(long executionId) => Current.Value?.TookOn.Add(executionId);

    // Hangfire calls both on the worker's thread around the job method's invocation, so the value flows into the method
    // and the method's notes (on the same object) are seen here once it has returned.
    public void OnPerforming(PerformingContext context) => Current.Value = new RunningJob(context.BackgroundJob.Id);

    public void OnPerformed(PerformedContext context)
    {
        var job = Current.Value;
        Current.Value = null;
        if (job is not { TookOn.Count: > 0 }) return;
        try { context.SetJobParameter(TookOnParameter, job.TookOn.Describe()); }
        catch (Exception e)
        {
            // Only the dashboard's account of the job is missing: each record still names the job that ran it. Hangfire's own
            // log: this filter is process-wide (Hangfire's global filters), not one host's.
            LogProvider.GetLogger(typeof(CurrentJobFilter)).Log(LogLevel.Warn, () => $"Naming the {job.TookOn.Count} executions Hangfire job {job.Id} took on failed", e);
        }
    }

    private sealed class RunningJob(string id)
    {
        public string Id { get; } = id;
        public ExecutionIdList TookOn { get; } = new();
    }
}

/// <summary>
/// A list of execution ids as Hangfire's dashboard shows them — the first few, the last and how many — so a chain of
/// 200,000 tasks does not keep 200,000 ids for a line of text. Names what a job took on (<see cref="CurrentJobFilter"/>)
/// and what a batch job carries (<see cref="ExecutionBatchJob"/>).
/// </summary>
public sealed class ExecutionIdList
{
    private const int Shown = 3;
    private readonly List<long> _first = new(Shown);
    private long _last;

    public int Count { get; private set; }

    public static ExecutionIdList Of(IEnumerable<long> executionIds)
    {
        var list = new ExecutionIdList();
        foreach (var id in executionIds) list.Add(id);
        return list;
    }

    public void Add(long executionId)
    {
        if (_first.Count < Shown) _first.Add(executionId);
        _last = executionId;
        Count++;
    }

    /// <summary>"102, 103, 104 … 1100 (999 in all)"; all of them when there are at most four.</summary>
    public string Describe() => Count switch
    {
        <= Shown => string.Join(", ", _first),
        Shown + 1 => $"{string.Join(", ", _first)}, {_last}",
        _ => $"{string.Join(", ", _first)} … {_last} ({Count.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} in all)",
    };
}
