using Hangfire;
using Hangfire.States;
using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Dispatch;

/// <summary>
/// Hangfire owns transport: one job per attempt that only says "run execution X". Priority picks the Hangfire
/// queue; servers listen to the queues in <see cref="Queues"/> order, so higher priorities are fetched first.
/// </summary>
public sealed class ExecutionDispatcher(IBackgroundJobClient jobs, IExecutionStore store)
{
    public const string Critical = "critical";
    public const string High = "high";
    public const string Default = "default";
    public const string Low = "low";

    /// <summary>Fetch order for Hangfire servers.</summary>
    public static readonly string[] Queues = [Critical, High, Default, Low];

    public static string QueueFor(int priority) => priority switch
    {
        >= 10 => Critical,
        >= 2 => High,
        >= 0 => Default,
        _ => Low,
    };

    public async Task<string> EnqueueAsync(long executionId, int priority, CancellationToken ct = default)
    {
        var jobId = jobs.Create(RunJob(executionId), new EnqueuedState(QueueFor(priority)));
        await store.SetHangfireJobAsync(executionId, jobId, ct);
        return jobId;
    }

    public async Task<string> ScheduleAsync(long executionId, int priority, DateTimeOffset runAt, CancellationToken ct = default)
    {
        var jobId = jobs.Create(RunJob(executionId), new ScheduledState(runAt.UtcDateTime) { Reason = $"queue {QueueFor(priority)}" });
        await store.SetHangfireJobAsync(executionId, jobId, ct);
        return jobId;
    }

    /// <summary>Sends a waiting record to Hangfire: now, or at its start time.</summary>
    public Task<string> DispatchAsync(long executionId, int priority, DateTimeOffset? runAt, DateTimeOffset now, CancellationToken ct = default) =>
        runAt is { } at && at > now ? ScheduleAsync(executionId, priority, at, ct) : EnqueueAsync(executionId, priority, ct);

    /// <summary>Sends many waiting records to Hangfire and records their job ids in one write.</summary>
    public async Task DispatchManyAsync(IReadOnlyList<(long Id, int Priority, DateTimeOffset? RunAt)> items, DateTimeOffset now, CancellationToken ct = default)
    {
        var created = new List<(long, string)>(items.Count);
        foreach (var (id, priority, runAt) in items)
        {
            var state = runAt is { } at && at > now
                ? new ScheduledState(at.UtcDateTime) { Reason = $"queue {QueueFor(priority)}" }
                : (IState)new EnqueuedState(QueueFor(priority));
            created.Add((id, jobs.Create(RunJob(id), state)));
        }
        await store.SetHangfireJobsAsync(created, ct);
    }

    /// <summary>Best effort: the job would find the record cancelled and do nothing anyway.</summary>
    public void Remove(string? jobId)
    {
        if (jobId is null) return;
        try { jobs.Delete(jobId); } catch (Exception) { /* storage gone or job already finished: nothing to remove */ }
    }

    private static readonly System.Reflection.MethodInfo RunMethod = typeof(ExecutionJob).GetMethod(nameof(ExecutionJob.RunAsync))!;

    // Built directly rather than from an expression: parsing and evaluating an expression tree per job is a visible
    // share of a batch submission's cost. Hangfire puts the server's shutdown token in place of the CancellationToken.
    private static Hangfire.Common.Job RunJob(long executionId) =>
        new(typeof(ExecutionJob), RunMethod, executionId, CancellationToken.None);
}
