using Taskdeck.Core.Executions;
using static Taskdeck.Core.Executions.ExecutionState;

namespace Taskdeck.Unit.Executions;

public class StateMachineTests
{
    /// <summary>The whole table, written out independently of the implementation: transition → allowed from-states → target.</summary>
    private static readonly Dictionary<Transition, (ExecutionState[] From, ExecutionState To)> Expected = new()
    {
        [Transition.Release] = ([Pending], Queued),
        [Transition.Claim] = ([Queued, Scheduled], Running),
        [Transition.Succeed] = ([Running, Cancelling], Succeeded),
        [Transition.Fail] = ([Running], Failed),
        [Transition.TimeOut] = ([Running], TimedOut),
        [Transition.RetryLater] = ([Running], Scheduled),
        [Transition.CancelWaiting] = ([Pending, Scheduled, Queued], Cancelled),
        [Transition.RequestCancel] = ([Running], Cancelling),
        [Transition.ConfirmCancel] = ([Cancelling], Cancelled),
        [Transition.MarkLost] = ([Running], Lost),
        [Transition.RetryLost] = ([Running], Scheduled),
        [Transition.Interrupt] = ([Running], Queued),
        [Transition.Expire] = ([Queued, Scheduled], Expired),
        [Transition.Retry] = ([Failed, TimedOut, Cancelled, Lost, Expired], Queued),
        [Transition.Rewait] = ([Failed, TimedOut, Cancelled, Lost, Expired], Pending),
        [Transition.ReportStarted] = ([Queued, Scheduled], Running),
    };

    public static TheoryData<Transition, ExecutionState> EveryPair()
    {
        var data = new TheoryData<Transition, ExecutionState>();
        foreach (var t in Enum.GetValues<Transition>().Where(t => t != Transition.Submit))
            foreach (var s in Enum.GetValues<ExecutionState>())
                data.Add(t, s);
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryPair))]
    public void Transition_IsAllowed_ExactlyFromItsListedStates(Transition transition, ExecutionState from)
    {
        var (allowedFrom, to) = Expected[transition];
        Assert.Equal(allowedFrom.Contains(from), StateMachine.Allows(transition, from));
        Assert.Equal(to, StateMachine.Rule(transition).To);
    }

    [Fact]
    public void EveryTransition_HasARule()
    {
        Assert.Equal(Expected.Keys.Order(), StateMachine.Rules.Keys.Order());
    }

    [Fact]
    public void TerminalStates_AreLeftOnlyByRetryOrRewait()
    {
        foreach (var terminal in ExecutionStates.Terminal)
        {
            var leaving = StateMachine.Rules.Values.Where(r => r.From.Contains(terminal)).Select(r => r.Transition).ToHashSet();
            Assert.True(leaving.IsSubsetOf([Transition.Retry, Transition.Rewait]), $"{terminal} can be left by {string.Join(", ", leaving)}");
        }
        Assert.Empty(StateMachine.Rules.Values.Where(r => r.From.Contains(Succeeded)));
    }

    /// <summary>The store asks for a run's in-flight tasks as one range of State values (the first entry of its index there).</summary>
    [Fact]
    public void TheInFlightStates_AreOneRangeOfValues()
    {
        var first = ExecutionStates.InFlight.Min();
        var last = ExecutionStates.InFlight.Max();
        Assert.Equal(Enum.GetValues<ExecutionState>().Where(s => s >= first && s <= last).Order(), ExecutionStates.InFlight.Order());
        Assert.All(Enum.GetValues<ExecutionState>(), s => Assert.Equal(ExecutionStates.InFlight.Contains(s), s.IsInFlight()));
    }
}
