using Taskdeck.Console.Live;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;

namespace Taskdeck.Unit.Live;

/// <summary>
/// A schedule view learns which runs it shows only after it read their states: a run that finishes in between must still
/// make the view stale, or a nightly schedule's last run reads "Running" until the next night.
/// </summary>
public sealed class ShownRunsTests
{
    private static StateChanged Finished(long execution, long? dagRun = null) =>
        new(execution, DateTimeOffset.UtcNow, ExecutionState.Running, ExecutionState.Succeeded, Transition.Succeed, 1, dagRun, "node");

    private static readonly Lock Gate = new();

    [Fact]
    public void ARunThatFinishesWhileTheViewIsRead_AndTurnsOutShown_MakesTheViewStale()
    {
        var runs = new ShownRuns();
        runs.ReadStarting();

        Assert.False(runs.MakesStale(Finished(7), Gate));
        runs.Found([7], []);

        Assert.True(runs.ReadCompleted());
        Assert.True(runs.Shows(Finished(7)));
    }

    /// <summary>The steps <see cref="ShownRuns.MakesStale"/> takes, with the read ending between them.</summary>
    [Fact]
    public void AChangeSeenDuringTheRead_ButHandedOverAfterItEnded_IsWeighedAgainstTheRunsItFound()
    {
        var runs = new ShownRuns();
        runs.ReadStarting();
        var reading = runs.Reading;
        var shownBefore = runs.Shows(Finished(7));
        runs.Found([7], []);
        Assert.False(runs.ReadCompleted());

        Assert.True(reading && !shownBefore);
        Assert.True(runs.KeepWhileReading(Finished(7)));
        Assert.False(runs.KeepWhileReading(Finished(8)));
    }

    [Fact]
    public void AFailedRead_KeepsNothing_ForTheNext()
    {
        var runs = new ShownRuns();
        runs.ReadStarting();
        runs.MakesStale(Finished(7), Gate);
        runs.ReadCompleted();

        Assert.False(runs.Reading);
        runs.ReadStarting();
        runs.Found([7], []);
        Assert.False(runs.ReadCompleted());
    }

    [Fact]
    public void ADagRunsTaskThatFinishesWhileTheViewIsRead_CountsForTheDagRunShown()
    {
        var runs = new ShownRuns();
        runs.ReadStarting();
        runs.MakesStale(Finished(40, dagRun: 3), Gate);
        runs.Found([], [3]);

        Assert.True(runs.ReadCompleted());
    }

    [Fact]
    public void ChangesOfOtherRunsWhileTheViewIsRead_LeaveItAsRead()
    {
        var runs = new ShownRuns();
        runs.ReadStarting();
        runs.MakesStale(Finished(8), Gate);
        runs.Found([7], []);

        Assert.False(runs.ReadCompleted());
        Assert.False(runs.Reading);
    }

    [Fact]
    public void ChangesOutsideARead_AreNotKept()
    {
        var runs = new ShownRuns();
        Assert.False(runs.MakesStale(Finished(7), Gate));
        runs.ReadStarting();
        runs.Found([7], []);

        Assert.False(runs.ReadCompleted());
    }

    [Fact]
    public void MoreChangesDuringOneReadThanAreKept_MakeTheViewStale()
    {
        var runs = new ShownRuns();
        runs.ReadStarting();
        for (var id = 1_000; id < 10_000; id++) runs.MakesStale(Finished(id), Gate);
        runs.Found([7], []);

        Assert.True(runs.ReadCompleted());
        runs.ReadStarting();
        Assert.False(runs.ReadCompleted());
    }
}
