using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.Executions;

/// <summary>
/// What a filter covers, decided once in Core: a reset reaches only retryable states, "no filter" is one test, the
/// stored/audited JSON leaves empty fields out, and the store counts what it would list without fetching it.
/// </summary>
public sealed class ExecutionFilterTests
{
    [Fact]
    public void Resettable_KeepsOnlyRetryableStates_AllOfThemWhenNoneAsked_AndNothingWhenNoneCanBeReset()
    {
        Assert.Equal(ExecutionStates.Retryable, new ExecutionFilter { Tag = "t" }.Resettable()!.States);
        Assert.Equal("t", new ExecutionFilter { Tag = "t" }.Resettable()!.Tag);
        Assert.Equal([ExecutionState.Failed], new ExecutionFilter { States = [ExecutionState.Running, ExecutionState.Failed] }.Resettable()!.States);
        Assert.Null(new ExecutionFilter { States = [ExecutionState.Running, ExecutionState.Succeeded] }.Resettable());
    }

    [Fact]
    public void HasCriteria_IsFalseOnlyForAFilterThatNarrowsNothing()
    {
        Assert.False(new ExecutionFilter().HasCriteria);
        Assert.False(new ExecutionFilter { States = [], Name = " ", Tag = "" }.HasCriteria);
        Assert.True(new ExecutionFilter { States = [ExecutionState.Failed] }.HasCriteria);
        Assert.True(new ExecutionFilter { Queue = "q" }.HasCriteria);
        Assert.True(new ExecutionFilter { DagRunId = 1 }.HasCriteria);
        Assert.True(new ExecutionFilter { CreatedTo = DateTimeOffset.UnixEpoch }.HasCriteria);
    }

    [Fact]
    public void Json_LeavesEmptyFieldsOut_NamesStates_AndReadsBack()
    {
        var filter = new ExecutionFilter { States = [ExecutionState.Failed], Tag = "nightly" };
        Assert.Equal("""{"States":["Failed"],"Tag":"nightly"}""", filter.ToJson());
        var back = ExecutionFilter.FromJson(filter.ToJson());
        Assert.Equal([ExecutionState.Failed], back.States);
        Assert.Equal("nightly", back.Tag);
        Assert.Equal(new ExecutionFilter(), ExecutionFilter.FromJson(null));
    }

    [Fact]
    public async Task StoreCount_IsWhatTheStoreWouldList_ForAResetFilter()
    {
        await using var storage = await StorageHost.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=count.db" });
        var store = storage.Get<ExecutionStore>();
        static NewExecution Tagged(string tag) => new() { Kind = ExecutorKind.Handler, Name = "demo.noop", Tags = [tag] };
        await store.InsertAsync(
        [
            (Tagged("a"), ExecutionState.Failed), (Tagged("a"), ExecutionState.Failed), (Tagged("a"), ExecutionState.Lost),
            (Tagged("a"), ExecutionState.Queued), (Tagged("a"), ExecutionState.Succeeded), (Tagged("b"), ExecutionState.Failed),
        ], DateTimeOffset.UtcNow, "count-test");

        var resettable = new ExecutionFilter { Tag = "a" }.Resettable()!;
        Assert.Equal(3, await store.CountAsync(resettable));
        Assert.Equal((await store.FindIdsAsync(resettable, 100)).Count, await store.CountAsync(resettable));
        Assert.Equal(2, await store.CountAsync(new ExecutionFilter { Tag = "a", States = [ExecutionState.Failed] }));
        Assert.Equal(6, await store.CountAsync(new ExecutionFilter()));
    }
}
