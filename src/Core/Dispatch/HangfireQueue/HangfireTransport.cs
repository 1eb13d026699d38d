using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Dispatch.HangfireQueue;

/// <summary>
/// Hangfire as Core's transport: durable enqueue, delayed jobs, the worker threads of every server that shares the
/// storage, and its dashboard. One execution travels as an <see cref="ExecutionJob"/>, several ready together as one
/// <see cref="ExecutionBatchJob"/>; Hangfire's per-job cost (≈ 55 statements on Hangfire.PostgreSql) is paid per job.
/// </summary>
public sealed class HangfireTransport(IBackgroundJobClient jobs, JobStorage storage, HangfireStorageFailures failures, IOptions<TaskdeckOptions> options,
    TimeProvider time) : IExecutionTransport
{
    private static readonly System.Reflection.MethodInfo RunOne = typeof(ExecutionJob).GetMethod(nameof(ExecutionJob.RunAsync))!;
    private static readonly System.Reflection.MethodInfo RunMany = typeof(ExecutionBatchJob).GetMethod(nameof(ExecutionBatchJob.RunAsync))!;
    private static readonly TimeSpan WorkersFreshFor = TimeSpan.FromSeconds(5);

    private (int Count, DateTimeOffset At) _workers = (0, DateTimeOffset.MinValue);

    public string Enqueue(string queue, IReadOnlyList<long> executionIds) =>
        jobs.Create(JobFor(queue, executionIds), new EnqueuedState(queue));

    public string Schedule(long executionId, string queue, DateTimeOffset runAt) =>
        jobs.Create(JobFor(queue, [executionId]), new ScheduledState(runAt.UtcDateTime) { Reason = $"queue {queue}" });

    public void Remove(string jobId)
    {
        try
        {
            using var connection = storage.GetConnection();
            // A batch's other executions may still be waiting in it: its run skips the one no longer waiting.
            if (connection.GetJobData(jobId)?.Job?.Type == typeof(ExecutionBatchJob)) return;
            jobs.Delete(jobId);
        }
        catch (Exception) { /* storage gone or job already finished: nothing to remove */ }
    }

    public bool Wake(string jobId, string queue) => jobs.ChangeState(jobId, new EnqueuedState(queue), ScheduledState.StateName);

    public bool IsUnavailable(Exception failure) => failures.IsUnavailable(failure);

    public IJobStates ReadJobStates() => new States(storage.GetConnection());

    public int ClusterWorkers
    {
        get
        {
            var (count, at) = _workers;
            var now = time.GetUtcNow();
            if (now - at < WorkersFreshFor) return count;
            try
            {
                var queues = ExecutionDispatcher.Queues;
                count = storage.GetMonitoringApi().Servers().Where(s => s.Queues.Any(q => queues.Contains(q))).Sum(s => s.WorkersCount);
            }
            catch (Exception) { count = 0; }
            // No server announced yet (starting, or a console-only node before the workers): assume one node's worth.
            if (count <= 0) count = options.Value.Node.WorkerCount;
            _workers = (count, now);
            return count;
        }
    }

    // Built directly rather than from an expression: parsing and evaluating an expression tree per job is a visible
    // share of a batch submission's cost. Hangfire puts the server's shutdown token in place of the CancellationToken.
    internal static Job JobFor(string queue, IReadOnlyList<long> ids) => ids.Count == 1
        ? new Job(typeof(ExecutionJob), RunOne, ids[0], CancellationToken.None)
        : new Job(typeof(ExecutionBatchJob), RunMany, queue, ids.ToArray(), CancellationToken.None);

    private sealed class States(global::Hangfire.Storage.IStorageConnection connection) : IJobStates
    {
        public (JobWhereabouts Where, string? Server) Find(string jobId)
        {
            var state = connection.GetStateData(jobId);
            if (state?.Name is not { } name) return (JobWhereabouts.Gone, null);
            if (name == EnqueuedState.StateName || name == ScheduledState.StateName || name == AwaitingState.StateName) return (JobWhereabouts.Waiting, null);
            if (name == ProcessingState.StateName) return (JobWhereabouts.Running, state.Data.TryGetValue("ServerId", out var server) ? server : null);
            return (JobWhereabouts.Gone, null);
        }

        public void Dispose() => connection.Dispose();
    }
}
