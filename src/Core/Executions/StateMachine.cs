using System.Collections.Frozen;
using static Taskdeck.Core.Executions.ExecutionState;

namespace Taskdeck.Core.Executions;

public sealed record TransitionRule(Transition Transition, IReadOnlyList<ExecutionState> From, ExecutionState To);

/// <summary>The one table of allowed state changes. Nothing changes an execution's state except through it.</summary>
public static class StateMachine
{
    public static readonly IReadOnlyList<ExecutionState> SubmitTargets = [Pending, Scheduled, Queued];

    public static readonly FrozenDictionary<Transition, TransitionRule> Rules = new TransitionRule[]
    {
        new(Transition.Release, [Pending], Queued),
        new(Transition.Claim, [Queued, Scheduled], Running),
        // Cancelling → Succeeded: the work finished before it observed the cancel; the result is real, so keep it.
        new(Transition.Succeed, [Running, Cancelling], Succeeded),
        new(Transition.Fail, [Running], Failed),
        new(Transition.TimeOut, [Running], TimedOut),
        new(Transition.RetryLater, [Running], Scheduled),
        new(Transition.CancelWaiting, [Pending, Scheduled, Queued], Cancelled),
        new(Transition.RequestCancel, [Running], Cancelling),
        new(Transition.ConfirmCancel, [Cancelling], Cancelled),
        new(Transition.MarkLost, [Running], Lost),
        new(Transition.RetryLost, [Running], Scheduled),
        new(Transition.Interrupt, [Running], Queued),
        new(Transition.Expire, [Queued, Scheduled], Expired),
        new(Transition.Retry, [Failed, TimedOut, Cancelled, Lost, Expired], Queued),
        new(Transition.Rewait, [Failed, TimedOut, Cancelled, Lost, Expired], Pending),
        new(Transition.ReportStarted, [Queued, Scheduled], Running),
    }.ToFrozenDictionary(r => r.Transition);

    public static TransitionRule Rule(Transition transition) =>
        Rules.TryGetValue(transition, out var rule)
            ? rule
            : throw new ArgumentOutOfRangeException(nameof(transition), transition, "Submit is not a transition between states.");

    public static bool Allows(Transition transition, ExecutionState from) => Rule(transition).From.Contains(from);

    /// <summary>
    /// Transitions a bulk act may apply to many records in one statement: they neither open nor close an attempt, so a
    /// record's change is its state, its timestamps and one history row.
    /// </summary>
    public static bool IsSetBased(Transition transition) =>
        transition is Transition.CancelWaiting or Transition.RequestCancel or Transition.Retry or Transition.Rewait or Transition.Release;

    /// <summary>Transitions that open a new attempt.</summary>
    public static bool OpensAttempt(Transition transition) => transition is Transition.Claim or Transition.ReportStarted;

    /// <summary>Transitions that close the current attempt, with the outcome the attempt records.</summary>
    public static ExecutionState? ClosesAttemptAs(Transition transition) => transition switch
    {
        Transition.Succeed => Succeeded,
        Transition.Fail or Transition.RetryLater => Failed,
        Transition.TimeOut => TimedOut,
        Transition.ConfirmCancel => Cancelled,
        Transition.MarkLost or Transition.RetryLost or Transition.Interrupt => Lost,
        _ => null,
    };
}
