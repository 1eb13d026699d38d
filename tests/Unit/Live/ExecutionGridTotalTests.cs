using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Taskdeck.Console.Live;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Live;

/// <summary>
/// The total under a live executions grid, on a real SQLite file. A filter whose rows only new executions add (a task name,
/// no state, no time range) is counted in full once, then each refresh adds the executions past the highest id that count
/// saw; a deletion, or the full-count interval passing, counts it in full again.
/// </summary>
public sealed class ExecutionGridTotalTests : LiveModelOnSqlite<ExecutionGridSnapshot>
{
    private const string TaskName = "report.daily";

    private async Task<List<long>> InsertAsync(string name, int count)
    {
        await using var db = await Contexts.CreateDbContextAsync();
        var now = DateTimeOffset.UtcNow;
        var rows = Enumerable.Range(0, count).Select(_ => new Execution
        {
            TaskId = Guid.NewGuid().ToString(), Name = name, State = ExecutionState.Scheduled, Queue = "default", CreatedAt = now, UpdatedAt = now,
        }).ToList();
        db.Executions.AddRange(rows);
        await db.SaveChangesAsync();
        return rows.Select(r => r.Id).ToList();
    }

    private async Task DeleteAsync(long id)
    {
        await using var db = await Contexts.CreateDbContextAsync();
        await db.Executions.Where(e => e.Id == id).ExecuteDeleteAsync();
    }

    private Task<ExecutionGridModel> WatchedAsync(ExecutionGridQuery query, TimeSpan fullCountInterval) =>
        WatchedAsync(new ExecutionGridModel(query, Events, Services.GetRequiredService<ExecutionQueries>(),
            new LiveCadence { MinInterval = TimeSpan.FromMilliseconds(50), HistoryInterval = fullCountInterval }, TimeProvider.System, NullLogger.Instance));

    private static StateChanged Submitted(long id) =>
        new(id, DateTimeOffset.UtcNow, null, ExecutionState.Scheduled, Transition.Submit, 0, null, "node");

    [Fact]
    public async Task AFilterOnlySubmissionsGrow_AddsTheNewExecutions_ToItsLastCount_UntilADeletion()
    {
        await InsertAsync(TaskName, 30);
        await InsertAsync("other.task", 10);
        await using var model = await WatchedAsync(new ExecutionGridQuery(Name: TaskName), fullCountInterval: TimeSpan.FromHours(1));
        Assert.Equal((25, 30), (model.Current!.Rows.Count, model.Current.Total));
        Assert.Equal(1, model.FullCounts);

        var added = await InsertAsync(TaskName, 5);
        await InsertAsync("other.task", 3);
        var grown = await RefreshedAsync(Submitted(added[^1]));

        Assert.Equal(35, grown.Total);
        Assert.Equal(added[^1], grown.Rows[0].Id);
        Assert.Equal(1, model.FullCounts);

        await DeleteAsync(added[0]);
        await DeleteAsync(added[1]);
        var shrunk = await RefreshedAsync(new ExecutionDeleted(added[0], DateTimeOffset.UtcNow));

        Assert.Equal(33, shrunk.Total);
        Assert.Equal(2, model.FullCounts);
    }

    /// <summary>A deletion this node never heard of (another node's, say) shows within the full-count interval.</summary>
    [Fact]
    public async Task AnUnannouncedDeletion_IsCountedOnceTheFullCountIntervalHasPassed()
    {
        var ids = await InsertAsync(TaskName, 30);
        await using var model = await WatchedAsync(new ExecutionGridQuery(Name: TaskName), fullCountInterval: TimeSpan.FromSeconds(1));

        await DeleteAsync(ids[0]);
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var added = await InsertAsync(TaskName, 1);
        var refreshed = await RefreshedAsync(Submitted(added[0]));

        Assert.Equal(30, refreshed.Total);
        Assert.Equal(2, model.FullCounts);
    }

    /// <summary>
    /// A total that was only added to may miss what no event told (another node's deletion, a row committed after a higher
    /// id): once the interval has passed the grid counts in full, though nothing else changes.
    /// </summary>
    [Fact]
    public async Task AGridThatOnlyAdded_CountsInFullOnceTheIntervalHasPassed_ThoughNothingElseChanges()
    {
        var ids = await InsertAsync(TaskName, 30);
        await using var model = await WatchedAsync(new ExecutionGridQuery(Name: TaskName), fullCountInterval: TimeSpan.FromSeconds(5));
        var added = await InsertAsync(TaskName, 1);
        Assert.Equal(31, (await RefreshedAsync(Submitted(added[0]))).Total);
        Assert.Equal(1, model.FullCounts);

        await DeleteAsync(ids[0]);
        var recounted = await NextUpdateAsync();

        Assert.Equal(30, recounted.Total);
        Assert.Equal(2, model.FullCounts);
    }

    [Fact]
    public async Task AFirstPageThatIsNotFull_IsItsOwnTotal()
    {
        await InsertAsync(TaskName, 3);
        await InsertAsync("other.task", 40);
        await using var byTask = await WatchedAsync(new ExecutionGridQuery(Name: TaskName), fullCountInterval: TimeSpan.FromHours(1));
        await using var byState = await WatchedAsync(new ExecutionGridQuery(States: nameof(ExecutionState.Scheduled), Name: TaskName), TimeSpan.FromHours(1));

        Assert.Equal((3, 3), (byTask.Current!.Rows.Count, byTask.Current.Total));
        Assert.Equal(0, byTask.FullCounts);
        Assert.Equal(3, byState.Current!.Total);
    }

    /// <summary>A state filter's rows change with every transition: it is counted at each refresh, as before.</summary>
    [Fact]
    public async Task AFilterOnStates_IsCountedAtEveryRefresh()
    {
        var ids = await InsertAsync(TaskName, 30);
        await using var model = await WatchedAsync(new ExecutionGridQuery(States: nameof(ExecutionState.Scheduled)), TimeSpan.FromHours(1));
        Assert.Equal(30, model.Current!.Total);

        await using (var db = await Contexts.CreateDbContextAsync())
            await db.Executions.Where(e => e.Id == ids[0]).ExecuteUpdateAsync(u => u.SetProperty(e => e.State, ExecutionState.Cancelled));
        var refreshed = await RefreshedAsync(new StateChanged(ids[0], DateTimeOffset.UtcNow, ExecutionState.Scheduled, ExecutionState.Cancelled,
            Transition.CancelWaiting, 0, null, "node"));

        Assert.Equal(29, refreshed.Total);
        Assert.Equal(0, model.FullCounts);
    }
}
