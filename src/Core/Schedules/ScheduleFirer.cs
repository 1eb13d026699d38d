using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;

namespace Taskdeck.Core.Schedules;

/// <summary>
/// Handles one slot of one schedule: applies the overlap policy, then starts the run with the slot's firing row in the
/// same transaction (or records why nothing started). A slot another node already handled is left alone.
/// </summary>
public sealed class ScheduleFirer(
    IScheduleStore store,
    ExecutionService executions,
    DagService dags,
    ScheduleEvents events,
    NodeIdentity node,
    [FromKeyedServices(ScheduleServices.ClockKey)] TimeProvider time,
    ILogger<ScheduleFirer> logger)
{
    public async Task<FireResult> FireAsync(Schedule s, DateTimeOffset slot, FiringKind kind, string? note, CancellationToken ct)
    {
        var claim = new SlotClaim(s.Id, s.Name, slot, kind, time.GetUtcNow(), node.Id) { Message = note };
        if (kind != FiringKind.Manual && s.Overlap != OverlapPolicy.Allow
            && await store.ActiveRunsAsync(s.Name, ct) is { Count: > 0 } active)
        {
            var previous = Describe(active);
            switch (s.Overlap)
            {
                case OverlapPolicy.Skip:
                    return await RecordAsync(s, claim with { Message = Join(note, $"skipped: {previous} still running") }, FiringOutcome.Skipped, ct);
                case OverlapPolicy.BufferOne when await store.BufferedAsync(s.Id, ct) is { } waiting:
                    return await RecordAsync(s, claim with { Message = Join(note, $"skipped: {previous} still running and the slot of {waiting.Slot:u} already waits") },
                        FiringOutcome.Skipped, ct);
                case OverlapPolicy.BufferOne:
                    return await RecordAsync(s, claim with { Message = Join(note, $"waits for {previous} to end") }, FiringOutcome.Buffered, ct);
                case OverlapPolicy.CancelPrevious:
                    foreach (var run in active)
                    {
                        if (run.DagRunId is { } runId) await dags.KillAsync(runId, Audit.Actor.System, ct);
                        else if (run.ExecutionId is { } id) await executions.CancelAsync(id, Audit.Actor.System, $"schedule '{s.Name}': the slot of {slot:u} replaces it", ct);
                    }
                    claim = claim with { Message = Join(note, $"cancelled {previous}") };
                    break;
            }
        }
        return await StartAsync(s, claim, ct);
    }

    /// <summary>Starts the run a BufferOne slot was waiting for (its row becomes Started in the run's transaction).</summary>
    public Task<FireResult> StartBufferedAsync(Schedule s, ScheduleFiring buffered, CancellationToken ct) =>
        StartAsync(s, new SlotClaim(s.Id, s.Name, buffered.Slot, buffered.Kind, time.GetUtcNow(), node.Id)
        {
            BufferedFiringId = buffered.Id, Message = Join(buffered.Message, "started once the previous run ended"),
        }, ct);

    private async Task<FireResult> StartAsync(Schedule s, SlotClaim claim, CancellationToken ct)
    {
        try
        {
            if (s.Kind == ScheduleTargetKind.Dag)
            {
                using var document = JsonDocument.Parse(s.DagJson ?? "{}");
                var submitted = await dags.SubmitForSlotAsync(document.RootElement, claim, ct);
                if (submitted.SlotTaken) return FireResult.SlotTaken;
                if (!submitted.Accepted) return await RecordAsync(s, claim with { Message = Join(claim.Message, string.Join(" ", submitted.Errors)) }, FiringOutcome.Failed, ct);
                Fired(s);
                return new FireResult(FiringOutcome.Started, null, submitted.RunId, claim.Message);
            }
            var execution = await executions.SubmitForSlotAsync(ScheduleService.ToExecution(s), claim, ct);
            if (execution is null) return FireResult.SlotTaken;
            Fired(s);
            return new FireResult(FiringOutcome.Started, execution.Id, null, claim.Message);
        }
        catch (InvalidSubmissionException e)
        {
            // The definition was valid when saved; what it names can go away (a handler removed, commands turned off).
            logger.LogWarning("Schedule {Name}: the slot of {Slot} could not start: {Field}: {Message}", s.Name, claim.Slot, e.Field, e.Message);
            return await RecordAsync(s, claim with { Message = Join(claim.Message, $"{e.Field}: {e.Message}") }, FiringOutcome.Failed, ct);
        }
    }

    private async Task<FireResult> RecordAsync(Schedule s, SlotClaim claim, FiringOutcome outcome, CancellationToken ct)
    {
        if (!await store.RecordAsync(claim, outcome, ct)) return FireResult.SlotTaken;
        Fired(s);
        return new FireResult(outcome, null, null, claim.Message);
    }

    private void Fired(Schedule s) => events.Publish(new ScheduleEvent(s.Id, s.Name, ScheduleChange.Fired, time.GetUtcNow()));

    private static string Describe(IReadOnlyList<ActiveRun> active)
    {
        var names = active.Select(a => a.DagRunId is { } r ? $"DAG run {r}" : $"execution {a.ExecutionId}").ToList();
        return names.Count == 1 ? names[0] : $"{names.Count} runs ({string.Join(", ", names.Take(3))}{(names.Count > 3 ? ", …" : "")})";
    }

    private static string? Join(string? first, string? second) =>
        string.IsNullOrWhiteSpace(first) ? second : string.IsNullOrWhiteSpace(second) ? first : $"{first}; {second}";
}
