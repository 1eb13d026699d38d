using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Limits;
using Taskdeck.Core.Workers;

namespace Taskdeck.Core.Executors;

/// <summary>
/// Runs one attempt: claims the record by compare-and-set (a lost claim does nothing), runs the handler or command
/// under a token that cancel, timeout and host shutdown can fire, then closes the attempt with exactly one transition.
/// </summary>
public sealed class ExecutionRunner(
    IExecutionReader store,
    IAttemptOutputStore output,
    ExecutionTransitions transitions,
    ExecutionDispatcher dispatcher,
    RetryElection retries,
    TaskHandlerRegistry handlers,
    CommandRunner commands,
    RunningWork running,
    LogSink logs,
    IAdmissionGate admission,
    ICommandLaunch launches,
    NodeIdentity node,
    ExecutionEvents events,
    IEventBroadcast broadcast,
    IServiceProvider services,
    IOptions<TaskdeckOptions> options,
    TimeProvider time,
    ILogger<ExecutionRunner> logger,
    IEnumerable<IResultValidator> validators)
{
    private readonly IResultValidator[] _validators = validators.ToArray();

    private static readonly TimeSpan AdmissionRetryDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan EarlyStartTolerance = TimeSpan.FromSeconds(2);

    /// <param name="read">
    /// The record as a batch job read it with the others of its batch (one read for all of them), or null to read it here.
    /// A Queued copy saves the read: the claim expects the copy's attempt, so a copy that went stale (the record ran
    /// meanwhile) claims nothing, and the record is read again and judged afresh.
    /// </param>
    public async Task RunAsync(long executionId, CancellationToken shutdown, Execution? read = null) =>
        await await StartAsync(executionId, shutdown, read);

    /// <summary>
    /// Runs the attempt's work and returns once its closing transition is issued; the task it returns completes when that
    /// transition is recorded (or faults when it could not be). A batch job starts its next execution meanwhile, so the
    /// closing write of one and the claim of the next share one group commit instead of waiting for two.
    /// </summary>
    /// <param name="read">As for <see cref="RunAsync(long, CancellationToken, Execution?)"/>.</param>
    /// <param name="jobId">The Hangfire job the work runs in, stored with the claim (null: outside a job; the record keeps the job it names).</param>
    /// <param name="releaseFirst">
    /// A DAG child handed to this worker before its release (<see cref="ExecutionDispatcher.Continuation.TryTakeToRelease"/>):
    /// released and claimed in one commit; released alone (to wait for a worker as usual) when it cannot run here now.
    /// </param>
    /// <param name="workStarted">Called once the claim has committed, as the work starts (not when nothing was claimed).</param>
    /// <param name="workEnded">
    /// Called once the work has ended, before its closing transition is issued: what that transition's observers do (a DAG
    /// child's release) may then already see what the caller set up for it. Not called when nothing was claimed.
    /// </param>
    public async Task<Task> StartAsync(long executionId, CancellationToken shutdown, Execution? read = null, string? jobId = null,
        TransitionCommand? releaseFirst = null, Action? workStarted = null, Action? workEnded = null)
    {
        if (releaseFirst is null && read is { State: ExecutionState.Queued } && read.Id == executionId)
        {
            var (readAgain, recorded) = await RunAsync(read, stale: true, shutdown, jobId, null, workStarted, workEnded);
            if (!readAgain) return recorded;
        }
        if (await store.FindAsync(executionId, CancellationToken.None) is { } execution)
            return (await RunAsync(execution, stale: false, shutdown, jobId, releaseFirst, workStarted, workEnded)).Recorded;
        return Task.CompletedTask;
    }

    /// <summary>A release handed to this worker that it will not run: applied alone, so the record waits for a worker as usual.</summary>
    public Task ReleaseAsync(TransitionCommand release) => transitions.ApplyAsync(release, CancellationToken.None);

    /// <summary>
    /// ReadAgain is true only when a claim from a <paramref name="stale"/> copy found the record claimable in another
    /// attempt. Recorded completes when the attempt's closing transition is committed (at once when nothing was claimed);
    /// the running entry is held until then, the node's capacity only until the work ended — the next execution may use
    /// it while this one's end is written.
    /// </summary>
    private async Task<(bool ReadAgain, Task Recorded)> RunAsync(Execution execution, bool stale, CancellationToken shutdown, string? jobId,
        TransitionCommand? releaseFirst, Action? workStarted, Action? workEnded)
    {
        var executionId = execution.Id;
        // An unreleased child is taken from Pending (its release then its claim), any other record from a queue.
        if (execution.Kind == ExecutorKind.External || !StateMachine.Allows(releaseFirst?.Transition ?? Transition.Claim, execution.State))
        {
            // A child that no longer waits as it did when handed over (cancelled, or released by another path meanwhile):
            // its release is tried as usual, which does nothing unless it still waits.
            if (releaseFirst is not null) await ReleaseAsync(releaseFirst);
            return (false, Task.CompletedTask);
        }
        if (!await WaitUntilDueAsync(execution, shutdown)) return (false, Task.CompletedTask);

        IDisposable? admitted = await admission.TryAdmitAsync(execution, shutdown);
        if (admitted is null)
        {
            // Not enough free capacity here now: leave the record waiting and look again shortly (an unreleased child is
            // released to wait for a worker like any other).
            if (releaseFirst is not null) await ReleaseAsync(releaseFirst);
            else await dispatcher.ScheduleAsync(executionId, execution.Priority, time.GetUtcNow() + AdmissionRetryDelay);
            return (false, Task.CompletedTask);
        }
        RunningWork.Entry? entry = null;
        Task? recording = null;
        try
        {
            // The attempt read is the one claimed: a record that ran (and went back to wait) since it was read is not
            // claimed on what that read said — a retry's back-off would be skipped.
            var claimCommand = new TransitionCommand(executionId, Transition.Claim) { NodeId = node.Id, ExpectedAttempt = execution.AttemptCount, HangfireJobId = jobId };
            var claim = releaseFirst is null
                ? await transitions.ApplyAsync(claimCommand, CancellationToken.None)
                : (await transitions.ApplyTogetherAsync(releaseFirst, claimCommand, CancellationToken.None)).Second;
            if (!claim.Applied) return (stale && claim.FoundState is { } found && StateMachine.Allows(Transition.Claim, found), Task.CompletedTask);

            var attempt = claim.AttemptNumber;
            entry = running.Register(executionId, attempt, shutdown);
            workStarted?.Invoke();
            var log = new AttemptLog(logs, executionId, attempt, options.Value.Logs.MaxBytesPerStream);
            Outcome outcome;
            using (var timeout = execution.TimeoutSeconds is > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(execution.TimeoutSeconds.Value), time) : null)
            using (timeout?.Token.Register(() => { entry.TimedOut = true; entry.Source.Cancel(); }))
            {
                outcome = await ExecuteAsync(execution, attempt, log, entry);
                if (outcome.Succeeded && _validators.Any(v => v.AppliesTo(execution)))
                {
                    // Validators read what the attempt wrote: flush first.
                    await logs.FlushAsync(CancellationToken.None);
                    if (await ValidateResultAsync(execution, attempt, log) is { } rejected)
                        outcome = outcome with { Succeeded = false, Error = rejected };
                }
            }
            admitted.Dispose();
            admitted = null;
            workEnded?.Invoke();
            recording = RecordAsync(execution, attempt, outcome, entry, shutdown);
            return (false, recording);
        }
        finally
        {
            admitted?.Dispose();
            if (recording is null && entry is not null) running.Unregister(executionId, entry);
        }
    }

    /// <summary>The closing transition and the attempt's last log lines, then the running entry let go.</summary>
    private async Task RecordAsync(Execution execution, int attempt, Outcome outcome, RunningWork.Entry entry, CancellationToken shutdown)
    {
        try
        {
            // Issued before the closing transition, so committed no later than it; awaited after, off the hot path.
            var flushed = logs.FlushAsync(CancellationToken.None);
            await CloseAsync(execution, attempt, outcome, entry, shutdown);
            await flushed;
        }
        finally
        {
            running.Unregister(execution.Id, entry);
        }
    }

    /// <summary>
    /// Hangfire keeps scheduled jobs by whole seconds, so a back-off or delayed start can fire up to a second early:
    /// wait out such a small remainder here. A job far ahead of its record's start time is a stale duplicate; it
    /// re-schedules itself for the right time instead of starting the work early.
    /// </summary>
    private async Task<bool> WaitUntilDueAsync(Execution execution, CancellationToken shutdown)
    {
        if (execution.State != ExecutionState.Scheduled || execution.RunAt is not { } due) return true;
        if (due - time.GetUtcNow() > EarlyStartTolerance)
        {
            await dispatcher.ScheduleAsync(execution.Id, execution.Priority, due);
            return false;
        }
        // Timers round to whole milliseconds and run on a monotonic clock that can drift from the wall clock the
        // due time is written in: wait until the wall clock itself says it is due.
        for (var early = due - time.GetUtcNow(); early > TimeSpan.Zero; early = due - time.GetUtcNow())
        {
            try { await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(early.TotalMilliseconds) + 1), time, shutdown); }
            catch (OperationCanceledException) { return false; } // the host stops; the reconciler dispatches it at the next start
        }
        return true;
    }

    /// <param name="Reported">The process reports its own outcome: a refused close means the report already closed the attempt.</param>
    private sealed record Outcome(bool Succeeded, string? ResultJson, string? Error, int? Rc, bool Cancelled, bool Reported = false);

    private async Task<Outcome> ExecuteAsync(Execution execution, int attempt, AttemptLog log, RunningWork.Entry entry)
    {
        var ct = entry.Source.Token;
        log.Executor($"attempt {attempt} started on {node.Id}");
        try
        {
            switch (execution.Kind)
            {
                case ExecutorKind.Handler:
                {
                    var handler = handlers.Create(execution.Name, services);
                    var args = ParseArguments(execution.ArgumentsJson);
                    var context = new TaskContext(execution.Id, attempt, args, log, (p, m) => ReportProgressAsync(execution.Id, p, m), services, ct);
                    var result = await Task.Run(() => handler.RunAsync(context), ct);
                    return new Outcome(true, result is null ? null : JsonSerializer.Serialize(result, JsonDefaults.Options), null, 0, false);
                }
                case ExecutorKind.Command:
                {
                    var launch = await launches.PrepareAsync(execution, attempt, ct);
                    var rc = await commands.RunAsync(execution, log, launch.Environment, ct);
                    if (launch.ReportsOutcome)
                        return new Outcome(false, null, $"the worker exited with code {rc} without reporting a final status", rc, false, Reported: true);
                    return rc == 0
                        ? new Outcome(true, null, null, 0, false)
                        : new Outcome(false, null, $"exit code {rc}", rc, false);
                }
                default:
                    return new Outcome(false, null, $"{execution.Kind} executions are not run by Taskdeck's workers", null, false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return new Outcome(false, null, null, null, true);
        }
        catch (CommandRunner.CommandFailedException e)
        {
            log.Executor(e.Message);
            return new Outcome(false, null, e.Message, e.Rc, false);
        }
        catch (Exception e)
        {
            log.Error(e.ToString());
            return new Outcome(false, null, $"{e.GetType().Name}: {e.Message}", null, false);
        }
    }

    private async Task<string?> ValidateResultAsync(Execution execution, int attempt, AttemptLog log)
    {
        foreach (var validator in _validators)
        {
            string? reason;
            try { reason = await validator.ValidateAsync(execution, attempt, CancellationToken.None); }
            catch (Exception e) { reason = $"checking the result failed: {e.GetType().Name}: {e.Message}"; }
            if (reason is null) continue;
            log.Executor(reason);
            return reason;
        }
        return null;
    }

    private async Task CloseAsync(Execution execution, int attempt, Outcome outcome, RunningWork.Entry entry, CancellationToken shutdown)
    {
        var id = execution.Id;
        TransitionCommand command;
        if (outcome.Succeeded)
            command = new(id, Transition.Succeed) { ResultJson = outcome.ResultJson, Rc = outcome.Rc };
        else if (outcome.Cancelled && entry.LeaseLost)
            command = new(id, Transition.Interrupt) { Reason = "this node lost its lease while it ran" };
        else if (outcome.Cancelled && entry.CancelRequested)
            command = new(id, Transition.ConfirmCancel) { Reason = "cancelled by request" };
        else if (outcome.Cancelled && entry.TimedOut)
            command = retries.AfterFailure(execution, attempt, Transition.TimeOut, $"timed out after {execution.TimeoutSeconds} s", null);
        else if (outcome.Cancelled && shutdown.IsCancellationRequested)
            command = new(id, Transition.Interrupt) { Reason = "the host stopped while it ran" };
        else if (outcome.Cancelled)
            command = new(id, Transition.ConfirmCancel) { Reason = "cancelled" };
        else
            command = retries.AfterFailure(execution, attempt, Transition.Fail, outcome.Error ?? "failed", outcome.Rc);

        command = command with { NodeId = node.Id, ExpectedAttempt = attempt };
        var result = await transitions.ApplyAsync(command, CancellationToken.None);
        if (!result.Applied && result.FoundState == ExecutionState.Cancelling)
        {
            // A cancel request raced the finish: the failure (or timeout) ends as the cancel the operator asked for.
            result = await transitions.ApplyAsync(new TransitionCommand(id, Transition.ConfirmCancel)
                { NodeId = node.Id, ExpectedAttempt = attempt, Reason = "cancelled by request", Rc = outcome.Rc }, CancellationToken.None);
        }
        if (!result.Applied && outcome.Reported && result.FoundState is { } reported && (reported != ExecutionState.Running || result.AttemptNumber != attempt))
        {
            // The worker reported its outcome over the API before it exited: the record is already where it said.
            logger.LogDebug("Attempt {Attempt} of execution {Id} was closed by its worker's report ({State})", attempt, id, reported);
            return;
        }
        if (!result.Applied && entry.LeaseLost)
        {
            // Expected: the record was recovered elsewhere (Lost, retried) while this node could not keep its lease.
            logger.LogInformation("Attempt {Attempt} of execution {Id} was stopped: this node no longer holds it ({Why})", attempt, id, result.Describe());
            return;
        }
        if (!result.Applied)
        {
            logger.LogWarning("Attempt {Attempt} of execution {Id} finished but could not be recorded: {Why}", attempt, id, result.Describe());
            return;
        }
    }

    private async Task ReportProgressAsync(long id, double progress, string? message)
    {
        message = TextRules.Storable(message); // as stored: live viewers see what a reload shows
        await output.SetProgressAsync(id, progress, message);
        var reported = new ProgressChanged(id, time.GetUtcNow(), progress, message);
        events.Publish(reported);
        broadcast.Broadcast(reported);
    }

    private static JsonElement ParseArguments(string? json) =>
        string.IsNullOrWhiteSpace(json) ? JsonDocument.Parse("{}").RootElement : JsonDocument.Parse(json).RootElement;
}
