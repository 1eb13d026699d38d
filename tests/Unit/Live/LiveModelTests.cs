using System.Data.Common;
using Bunit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Components.Executions;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;
using Taskdeck.Data.Dashboard;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Console;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Live;

/// <summary>
/// The executions grid on its shared live model, on the app's real database: a change to a row on screen repaints that row
/// without a query; a hidden page renders nothing; twenty pages with one filter cost one query per refresh. The events are
/// published on a bus of the test's own (as the change follower publishes another node's changes), so nothing else the
/// engine does can add a refresh; every database command the grid's reads send is counted by an EF Core interceptor.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class LiveModelTests : AppTestContext
{
    private readonly ExecutionEvents _events = new();
    private readonly CommandCounter _commands = new();
    private readonly LiveModels _live;
    private readonly PooledDbContextFactory<SqliteTaskdeckDbContext> _contexts;

    public LiveModelTests(EngineHost host) : base(host)
    {
        _contexts = new PooledDbContextFactory<SqliteTaskdeckDbContext>(new DbContextOptionsBuilder<SqliteTaskdeckDbContext>()
            .UseSqlite($"Data Source={host.DatabasePath}").AddInterceptors(_commands).Options);
        var queries = new ExecutionQueries(new Narrowed(_contexts));
        // The models read through the counted connections; everything else comes from the app.
        var stores = new ServiceCollection().AddSingleton(queries).AddSingleton(host.Get<DagQueries>())
            .AddSingleton(new Taskdeck.Data.WorkTasks.WorkTaskQueries(new Narrowed(_contexts))).AddSingleton(host.Get<DashboardQueries>())
            .AddSingleton(host.Get<IOptions<TaskdeckOptions>>()).BuildServiceProvider();
        _live = new LiveModels(_events, stores, Options.Create(new LiveCadence()), TimeProvider.System, NullLoggerFactory.Instance);
        Services.AddSingleton(_events);
        Services.AddSingleton(_live);
    }

    private async Task<(string Tag, List<long> Ids)> ScheduledAsync(int count)
    {
        var tag = "live-" + Guid.NewGuid().ToString("N")[..8];
        var ids = new List<long>();
        for (var i = 0; i < count; i++)
        {
            var execution = await Host.Executions.SubmitAsync(new NewExecution
            {
                Kind = ExecutorKind.Handler, Name = "demo.noop", RunAt = DateTimeOffset.UtcNow.AddHours(1), Tags = [tag],
            }, Actor.System);
            ids.Add(execution.Id);
        }
        return (tag, ids);
    }

    private static StateChanged Claimed(long id) =>
        new(id, DateTimeOffset.UtcNow.AddSeconds(1), ExecutionState.Scheduled, ExecutionState.Running, Transition.Claim, 1, null, "another-node");

    /// <summary>Cancels the execution for real (the database says Cancelled) and announces it on the test's bus.</summary>
    private async Task CancelAsync(long id)
    {
        var outcome = await Host.Executions.CancelAsync(id, Actor.System, "live model test");
        Assert.True(outcome.Done, outcome.ToString());
        _events.Publish(new StateChanged(id, DateTimeOffset.UtcNow, ExecutionState.Scheduled, ExecutionState.Cancelled, Transition.CancelWaiting, 0, null, "another-node"));
    }

    private IRenderedComponent<ExecutionsPage> RenderPage(string tag, int rows)
    {
        // The filter lives in the URL, as a shared link would carry it.
        Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo($"/executions?tag={tag}");
        var cut = Render<ExecutionsPage>();
        cut.WaitForAssertion(() => Assert.Equal(rows, cut.FindAll("tbody tr.mud-table-row .state-chip").Count), Deadline);
        return cut;
    }

    private static string ChipOf(IRenderedComponent<ExecutionsPage> cut, long id) =>
        cut.FindAll("tbody tr.mud-table-row").Single(r => r.QuerySelector($"a[href='/executions/{id}']") is not null)
            .QuerySelector(".state-chip")!.TextContent.Trim();

    private Dictionary<long, int> RowRenders(IRenderedComponent<ExecutionsPage> cut) =>
        cut.FindComponents<ExecutionRow>().ToDictionary(c => c.Instance.Row.Id, c => c.RenderCount);

    [Fact]
    public async Task WhatAViewCosts_IsCountedUnderItsKind()
    {
        var (tag, _) = await ScheduledAsync(2);

        var cut = RenderPage(tag, 2);
        await cut.SettledAsync(Deadline);

        var grid = Assert.Single(_live.Work.ByView, v => v.View == "ExecutionGrid");
        Assert.Equal(1, grid.Queries);
        Assert.True(grid.Querying > TimeSpan.Zero);
        Assert.Equal(Assert.Single(_live.Models.OfType<ExecutionGridModel>()).Queries, grid.Queries);
        Assert.DoesNotContain(_live.Work.ByView, v => v.View == "Dashboard");
    }

    [Fact]
    public async Task GridPage_StateChangeOfARowItShows_RepaintsThatRowOnly_WithoutADatabaseQuery()
    {
        var (tag, ids) = await ScheduledAsync(3);
        var cut = RenderPage(tag, 3);
        await cut.SettledAsync(Deadline);
        var model = Assert.Single(_live.Models.OfType<ExecutionGridModel>());
        Assert.Equal(1, model.Queries);
        var commands = _commands.Count;
        // bunit counts a render of any row as one of the page and of the grid: their own renders are counted by themselves.
        var pageRenders = cut.Instance.OwnRenders;
        var gridRenders = cut.FindComponent<ExecutionsGrid>().Instance.OwnRenders;
        var rows = RowRenders(cut);
        Assert.Equal("Scheduled", ChipOf(cut, ids[1]));

        await CancelAsync(ids[1]);

        cut.WaitForAssertion(() => Assert.Equal("Cancelled", ChipOf(cut, ids[1])), Deadline);
        Assert.Equal(commands, _commands.Count);
        Assert.Equal(1, model.Queries);
        // Only the changed row rendered: not the grid, not the other rows, not the page.
        Assert.Equal(gridRenders, cut.FindComponent<ExecutionsGrid>().Instance.OwnRenders);
        Assert.Equal(pageRenders, cut.Instance.OwnRenders);
        var after = RowRenders(cut);
        Assert.True(after[ids[1]] > rows[ids[1]]);
        Assert.Equal(rows[ids[0]], after[ids[0]]);
        Assert.Equal(rows[ids[2]], after[ids[2]]);
        Assert.Equal("Scheduled", ChipOf(cut, ids[0]));
    }

    /// <summary>
    /// A reload the user asks for shows a progress bar row while it waits; a live one must not: on a live page that was a
    /// flashing bar and three renders of the grid at every row that came or went (MudDataGrid's own reload). The page around
    /// the grid (its filters and buttons) is not drawn again either: only the total beside its title, which draws itself.
    /// </summary>
    [Fact]
    public async Task GridPage_ARowEnteringIt_RedrawsTheGridOnce_AndItsTotal_NotThePage_WithoutALoadingBar()
    {
        var (tag, _) = await ScheduledAsync(2);
        var cut = RenderPage(tag, 2);
        await cut.SettledAsync(Deadline);
        cut.WaitForAssertion(() => Assert.Equal("2", cut.Find("[data-total]").GetAttribute("data-total")), Deadline);
        var pageRenders = cut.Instance.OwnRenders;
        var grid = cut.FindComponent<ExecutionsGrid>();
        var renders = grid.Instance.OwnRenders;
        var loadingShown = 0;
        grid.OnMarkupUpdated += (_, _) => { if (grid.Markup.Contains("mud-table-loading")) loadingShown++; };

        var added = await Host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", RunAt = DateTimeOffset.UtcNow.AddHours(1), Tags = [tag] }, Actor.System);
        _events.Publish(new StateChanged(added.Id, DateTimeOffset.UtcNow, null, ExecutionState.Scheduled, Transition.Submit, 0, null, "another-node"));

        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("tbody tr.mud-table-row .state-chip").Count), Deadline);
        await cut.SettledAsync(Deadline);
        cut.WaitForAssertion(() => Assert.Equal("3", cut.Find("[data-total]").GetAttribute("data-total")), Deadline);
        Assert.Equal(pageRenders, cut.Instance.OwnRenders);
        Assert.Equal(0, loadingShown);
        Assert.Equal(renders + 1, grid.Instance.OwnRenders);
    }

    /// <summary>
    /// A row entering a live page must not cost every row on it: with MudDataGrid (each row keyed inside a fragment of its
    /// own, so no key matched once the rows had moved down) and every row read again as a new object, each grid watching the
    /// page dropped all its rows' elements and components at every new execution, made them again and sent the browser every row.
    /// </summary>
    [Fact]
    public async Task GridPage_ARowEnteringIt_KeepsTheRowsItShowedAlready_NeitherMadeNorDrawnAgain()
    {
        var (tag, ids) = await ScheduledAsync(2);
        var cut = RenderPage(tag, 2);
        await cut.SettledAsync(Deadline);
        var rows = RowsById(cut);
        var renders = RowRenders(cut);

        var added = await Host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", RunAt = DateTimeOffset.UtcNow.AddHours(1), Tags = [tag] }, Actor.System);
        _events.Publish(new StateChanged(added.Id, DateTimeOffset.UtcNow, null, ExecutionState.Scheduled, Transition.Submit, 0, null, "another-node"));

        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("tbody tr.mud-table-row .state-chip").Count), Deadline);
        await cut.SettledAsync(Deadline);
        var after = RowsById(cut);
        Assert.True(after.ContainsKey(added.Id));
        foreach (var id in ids)
        {
            Assert.Same(rows[id], after[id]);
            Assert.Equal(renders[id], RowRenders(cut)[id]);
        }
    }

    private static Dictionary<long, ExecutionRow> RowsById(IRenderedComponent<ExecutionsPage> cut) =>
        cut.FindComponents<ExecutionRow>().ToDictionary(c => c.Instance.Row.Id, c => c.Instance);

    [Fact]
    public async Task GridPage_InAHiddenTab_ReceivesNoRenders_AndCatchesUpWhenShown()
    {
        var (tag, ids) = await ScheduledAsync(2);
        var cut = RenderPage(tag, 2);
        await cut.SettledAsync(Deadline);
        var visibility = Services.GetRequiredService<PageVisibility>();
        // Another page on the same filter, visible: it proves the shared model refreshed and handed out its updates.
        var seen = new List<LiveUpdate<ExecutionGridSnapshot>>();
        await using var other = _live.WatchExecutions(new ExecutionGridQuery(Tag: tag), null, u => { lock (seen) seen.Add(u); return Task.CompletedTask; });
        visibility.SetHidden(true);
        var pageRenders = cut.RenderCount;
        var gridRenders = cut.FindComponent<ExecutionsGrid>().RenderCount;
        var rows = RowRenders(cut);

        await CancelAsync(ids[0]);
        await WaitAsync(() => { lock (seen) return seen.Any(u => u.Snapshot.Find(ids[0])?.State == ExecutionState.Cancelled); });
        var added = await Host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", RunAt = DateTimeOffset.UtcNow.AddHours(1), Tags = [tag] }, Actor.System);
        _events.Publish(new StateChanged(added.Id, DateTimeOffset.UtcNow, null, ExecutionState.Scheduled, Transition.Submit, 0, null, "another-node"));
        await WaitAsync(() => { lock (seen) return seen.Any(u => u.Reshaped && u.Snapshot.Contains(added.Id)); });

        Assert.Equal(pageRenders, cut.RenderCount);
        Assert.Equal(gridRenders, cut.FindComponent<ExecutionsGrid>().RenderCount);
        Assert.Equal(rows, RowRenders(cut));
        Assert.Equal("Scheduled", ChipOf(cut, ids[0]));

        visibility.SetHidden(false);

        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("tbody tr.mud-table-row .state-chip").Count), Deadline);
        cut.WaitForAssertion(() => Assert.Equal("Cancelled", ChipOf(cut, ids[0])), Deadline);
    }


    [Fact]
    public async Task AViewerInAHiddenTab_IsHandedOneReshapedUpdate_WithTheModelsSnapshot_WhenShown()
    {
        var (tag, ids) = await ScheduledAsync(2);
        var visibility = new PageVisibility();
        var updates = new List<LiveUpdate<ExecutionGridSnapshot>>();
        await using var viewer = _live.WatchExecutions(new ExecutionGridQuery(Tag: tag), new LivePage(visibility, null),
            u => { lock (updates) updates.Add(u); return Task.CompletedTask; });
        // A visible page on the same filter keeps the model refreshing (a model every viewer of which is hidden rests).
        await using var visible = _live.WatchExecutions(new ExecutionGridQuery(Tag: tag), null, _ => Task.CompletedTask);
        await viewer.CurrentAsync();
        visibility.SetHidden(true);

        await CancelAsync(ids[0]);
        await CancelAsync(ids[1]);
        await WaitAsync(() => ids.All(id => viewer.Model.Current?.Find(id)?.State == ExecutionState.Cancelled));
        lock (updates) Assert.Empty(updates);
        visibility.SetHidden(false);
        await WaitAsync(() => { lock (updates) return updates.Count > 0; });

        var caughtUp = Assert.Single(updates);
        Assert.True(caughtUp.Reshaped);
        Assert.Equal(viewer.Model.Version, caughtUp.Version);
        Assert.InRange(caughtUp.Changes, 1, 2);
        Assert.All(ids, id => Assert.Equal(ExecutionState.Cancelled, caughtUp.Snapshot.Find(id)?.State));
    }

    [Fact]
    public async Task TwentyPagesWithOneFilter_CostOneQueryPerRefresh_NotTwenty()
    {
        var (tag, _) = await ScheduledAsync(2);
        var query = new ExecutionGridQuery(Tag: tag);
        var latest = new ExecutionGridSnapshot?[20];
        var viewers = new List<LiveViewer<ExecutionGridSnapshot>>();
        for (var i = 0; i < 20; i++)
        {
            var slot = i;
            viewers.Add(_live.WatchExecutions(query, null, u => { Volatile.Write(ref latest[slot], u.Snapshot); return Task.CompletedTask; }));
        }
        try
        {
            foreach (var viewer in viewers) Volatile.Write(ref latest[viewers.IndexOf(viewer)], await viewer.CurrentAsync());
            var model = Assert.Single(_live.Models.OfType<ExecutionGridModel>());
            Assert.Equal(1, model.Queries);
            var perQuery = _commands.Count; // a page's ids, its rows and (when the page does not tell it) the filter's total
            Assert.InRange(perQuery, 1, 3);

            for (var round = 1; round <= 3; round++)
            {
                var added = await Host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", RunAt = DateTimeOffset.UtcNow.AddHours(1), Tags = [tag] }, Actor.System);
                _events.Publish(new StateChanged(added.Id, DateTimeOffset.UtcNow, null, ExecutionState.Scheduled, Transition.Submit, 0, null, "another-node"));
                await WaitAsync(() => latest.All(s => s is not null && s.Contains(added.Id)));
                Assert.Equal(1 + round, model.Queries);
                Assert.Equal(perQuery * (1 + round), _commands.Count);
            }
            Assert.All(latest, s => Assert.Equal(5, s!.Total));
        }
        finally
        {
            foreach (var viewer in viewers) await viewer.DisposeAsync();
        }
        Assert.Empty(_live.Models);
    }

    [Fact]
    public async Task ARowLeavingAStateFilter_IsQueriedAgain_ARowStayingIsPatched()
    {
        var (tag, ids) = await ScheduledAsync(2);
        var updates = new List<LiveUpdate<ExecutionGridSnapshot>>();
        await using var viewer = _live.WatchExecutions(new ExecutionGridQuery(States: "Running,Scheduled", Tag: tag), null, u => { lock (updates) updates.Add(u); return Task.CompletedTask; });
        await viewer.CurrentAsync();
        var model = viewer.Model;

        _events.Publish(Claimed(ids[0]));
        await WaitAsync(() => { lock (updates) return updates.Count == 1; });
        Assert.Equal(1, model.Queries);
        Assert.False(updates[0].Reshaped);
        Assert.Equal([ids[0]], updates[0].ChangedRows);

        // Cancelled is outside the filter: the row leaves, which only a query can tell (the total changes too).
        _events.Publish(new StateChanged(ids[1], DateTimeOffset.UtcNow.AddSeconds(2), ExecutionState.Scheduled, ExecutionState.Cancelled, Transition.CancelWaiting, 0, null, "another-node"));
        await WaitAsync(() => model.Queries == 2);
    }

    [Fact]
    public void Patch_FollowsWhatTheStoreWritesForEachTransition()
    {
        var row = new Execution { Id = 1, State = ExecutionState.Queued, AttemptCount = 0, UpdatedAt = DateTimeOffset.UnixEpoch };
        var at = DateTimeOffset.UnixEpoch.AddSeconds(5);
        var running = ExecutionGridModel.Patch(row, new StateChanged(1, at, ExecutionState.Queued, ExecutionState.Running, Transition.Claim, 1, null, null))!;
        Assert.Equal((ExecutionState.Running, 1, at, (DateTimeOffset?)null), (running.State, running.AttemptCount, running.StartedAt, running.FinishedAt));
        Assert.Equal(ExecutionState.Queued, row.State); // the shared row is never changed: a patch copies it

        var progressed = ExecutionGridModel.Patch(running, new ProgressChanged(1, at, 0.5, "half"))!;
        Assert.Equal((0.5, "half"), (progressed.Progress, progressed.ProgressMessage));

        var done = ExecutionGridModel.Patch(progressed, new StateChanged(1, at.AddSeconds(3), ExecutionState.Running, ExecutionState.Succeeded, Transition.Succeed, 1, null, null))!;
        Assert.Equal((ExecutionState.Succeeded, (DateTimeOffset?)at.AddSeconds(3)), (done.State, done.FinishedAt));

        // An older change than the row already shows is not applied.
        Assert.Null(ExecutionGridModel.Patch(done, new StateChanged(1, at, ExecutionState.Queued, ExecutionState.Running, Transition.Claim, 1, null, null)));
    }

    [Fact]
    public async Task DetailPage_ProgressOfItsExecution_IsShownWithoutADatabaseQuery_AStateChangeIsReadOnce()
    {
        var running = await Host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "test.gate" }, Actor.System);
        await Host.WaitForStateAsync(running.Id, ExecutionState.Running);
        try
        {
            var cut = Render<ExecutionDetailPage>(p => p.Add(x => x.Id, running.Id));
            cut.WaitForAssertion(() => Assert.Contains("test.gate", cut.Markup), Deadline);
            var model = Assert.Single(_live.Models.OfType<ExecutionDetailModel>());
            await WaitAsync(() => model.Queries >= 1);
            var queries = model.Queries;
            var commands = _commands.Count;

            _events.Publish(new ProgressChanged(running.Id, DateTimeOffset.UtcNow, 0.42, "forty-two"));

            cut.WaitForAssertion(() => Assert.Contains("forty-two", cut.Markup), Deadline);
            Assert.Equal(commands, _commands.Count);
            Assert.Equal(queries, model.Queries);

            // A state change (a new history line, maybe an attempt) is one read of the execution, shared by every viewer.
            var other = new List<LiveUpdate<ExecutionDetailSnapshot>>();
            await using var second = _live.WatchExecution(running.Id, null, u => { lock (other) other.Add(u); return Task.CompletedTask; });
            _events.Publish(new StateChanged(running.Id, DateTimeOffset.UtcNow, ExecutionState.Running, ExecutionState.Running, null, 1, null, "another-node"));
            await WaitAsync(() => { lock (other) return other.Count > 0; });
            Assert.Equal(queries + 1, model.Queries);
            Assert.Same(model, Assert.Single(_live.Models.OfType<ExecutionDetailModel>()));
        }
        finally
        {
            Host.Gates.GetOrAdd(running.Id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    [Fact]
    public async Task LogViewer_AppendsAPublishedLine_WithoutAQuery_AndTwoViewersReadTheStoredLogOnce()
    {
        var loads = 0;
        Task<IReadOnlyList<LogEntry>> Load(long after, CancellationToken ct)
        {
            Interlocked.Increment(ref loads);
            return Task.FromResult<IReadOnlyList<LogEntry>>([new LogEntry { ExecutionId = 77, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow.AddSeconds(-5), Text = "stored\n" }]);
        }
        var first = Render<LogViewer>(p => p.Add(v => v.ExecutionId, 77L).Add(v => v.Attempt, 1).Add(v => v.Stream, LogStream.Output).Add(v => v.Load, Load));
        var second = Render<LogViewer>(p => p.Add(v => v.ExecutionId, 77L).Add(v => v.Attempt, 1).Add(v => v.Stream, LogStream.Output).Add(v => v.Load, Load));
        first.WaitForAssertion(() => Assert.Equal("stored\n", first.Find("pre").TextContent), Deadline);
        second.WaitForAssertion(() => Assert.Equal("stored\n", second.Find("pre").TextContent), Deadline);

        _events.Publish(new LogAppended(77, DateTimeOffset.UtcNow, 1, LogStream.Output, "live\n"));

        first.WaitForAssertion(() => Assert.Equal("stored\nlive\n", first.Find("pre").TextContent), Deadline);
        second.WaitForAssertion(() => Assert.Equal("stored\nlive\n", second.Find("pre").TextContent), Deadline);
        Assert.Equal(1, Volatile.Read(ref loads));
        Assert.Single(_live.Models.OfType<LogTailModel>());
    }

    /// <summary>
    /// A line published before the log was first read and stored after it (a quick command whose page opened as it ran)
    /// was never shown: the attempt's end reads the stored log again, and the line count follows.
    /// </summary>
    [Fact]
    public async Task LogViewer_ALineStoredAfterItsFirstRead_ShowsOnceTheAttemptEnds()
    {
        var stored = new List<LogEntry>();
        Task<IReadOnlyList<LogEntry>> Load(long after, CancellationToken ct)
        {
            lock (stored) return Task.FromResult<IReadOnlyList<LogEntry>>([.. stored]);
        }
        var viewer = Render<LogViewer>(p => p.Add(v => v.ExecutionId, 78L).Add(v => v.Attempt, 1).Add(v => v.Stream, LogStream.Output).Add(v => v.Load, Load));
        viewer.WaitForAssertion(() => Assert.Equal("Nothing was written to this log.", viewer.Find("pre").TextContent), Deadline);

        lock (stored) stored.Add(new LogEntry { ExecutionId = 78, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow, Text = "written before the page looked\n" });
        _events.Publish(new StateChanged(78, DateTimeOffset.UtcNow, ExecutionState.Running, ExecutionState.Succeeded, Transition.Succeed, 1, null, "node"));

        viewer.WaitForAssertion(() => Assert.Equal("written before the page looked\n", viewer.Find("pre").TextContent), Deadline);
        viewer.WaitForAssertion(() => Assert.Contains("1 line", viewer.Find(".log-toolbar").TextContent), Deadline);
        Assert.DoesNotContain("1 lines", viewer.Find(".log-toolbar").TextContent);
    }

    /// <summary>Read again whole at the attempt's end after lines arrived live: the text is the stored one and the lines are counted afresh.</summary>
    [Fact]
    public async Task LogViewer_ReadAgainWholeAfterLiveLines_CountsItsLinesAfresh()
    {
        var stored = new List<LogEntry> { new() { ExecutionId = 79, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow.AddSeconds(-5), Text = "a\n" } };
        Task<IReadOnlyList<LogEntry>> Load(long after, CancellationToken ct)
        {
            lock (stored) return Task.FromResult<IReadOnlyList<LogEntry>>([.. stored]);
        }
        var viewer = Render<LogViewer>(p => p.Add(v => v.ExecutionId, 79L).Add(v => v.Attempt, 1).Add(v => v.Stream, LogStream.Output).Add(v => v.Load, Load));
        viewer.WaitForAssertion(() => Assert.Equal("a\n", viewer.Find("pre").TextContent), Deadline);
        _events.Publish(new LogAppended(79, DateTimeOffset.UtcNow, 1, LogStream.Output, "b\n"));
        viewer.WaitForAssertion(() => Assert.Contains("2 lines", viewer.Find(".log-toolbar").TextContent), Deadline);

        lock (stored)
        {
            stored.Add(new LogEntry { ExecutionId = 79, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow, Text = "b\n" });
            stored.Add(new LogEntry { ExecutionId = 79, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow, Text = "c\n" });
        }
        _events.Publish(new StateChanged(79, DateTimeOffset.UtcNow, ExecutionState.Running, ExecutionState.Failed, Transition.Fail, 1, null, "node"));

        viewer.WaitForAssertion(() => Assert.Equal("a\nb\nc\n", viewer.Find("pre").TextContent), Deadline);
        viewer.WaitForAssertion(() => Assert.Contains("3 lines", viewer.Find(".log-toolbar").TextContent), Deadline);
    }

    /// <summary>
    /// An attempt running on another node publishes its lines there, not here: while it runs, its stored log is read for
    /// the lines after the last one seen (about once a second), so they show before it ends — also a line stored at the
    /// same instant as the one before it.
    /// </summary>
    [Fact]
    public async Task LogViewer_OfAnAttemptRunningOnAnotherNode_ShowsItsStoredLinesWhileItRuns()
    {
        var at = DateTimeOffset.UtcNow.AddSeconds(-2);
        var stored = new List<LogEntry> { new() { Id = 1, ExecutionId = 80, AttemptNumber = 1, Stream = LogStream.Output, At = at, Text = "first\n" } };
        var askedAfter = new List<long>();
        Task<IReadOnlyList<LogEntry>> Load(long after, CancellationToken ct)
        {
            lock (stored)
            {
                askedAfter.Add(after);
                return Task.FromResult<IReadOnlyList<LogEntry>>(stored.Where(l => l.Id > after).ToList());
            }
        }
        var viewer = Render<LogViewer>(p => p.Add(v => v.ExecutionId, 80L).Add(v => v.Attempt, 1).Add(v => v.Stream, LogStream.Output)
            .Add(v => v.Live, true).Add(v => v.RunsElsewhere, true).Add(v => v.Load, Load));
        viewer.WaitForAssertion(() => Assert.Equal("first\n", viewer.Find("pre").TextContent), Deadline);

        lock (stored)
        {
            stored.Add(new LogEntry { Id = 2, ExecutionId = 80, AttemptNumber = 1, Stream = LogStream.Output, At = at, Text = "second\n" });
            stored.Add(new LogEntry { Id = 3, ExecutionId = 80, AttemptNumber = 1, Stream = LogStream.Output, At = at.AddMilliseconds(200), Text = "third\n" });
        }

        viewer.WaitForAssertion(() => Assert.Equal("first\nsecond\nthird\n", viewer.Find("pre").TextContent), Deadline);
        Assert.Contains("Tailing live", viewer.Find(".log-toolbar").TextContent);
        lock (stored)
        {
            Assert.Equal(0, askedAfter[0]);
            Assert.All(askedAfter.Skip(1), after => Assert.True(after >= 1, "a tail read asks for the lines after the last one seen, not the whole log"));
        }
    }

    /// <summary>
    /// A tail read that comes back while the log is being read whole at the attempt's end brings lines that whole read holds
    /// as well: they are not shown twice.
    /// </summary>
    [Fact]
    public async Task LogViewer_ATailReadAnsweredDuringTheReadAtTheAttemptsEnd_ShowsNoLineTwice()
    {
        var stored = new List<LogEntry> { new() { Id = 1, ExecutionId = 82, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow, Text = "a\n" } };
        var wholeReads = 0;
        var tailAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tailAnswer = new TaskCompletionSource<IReadOnlyList<LogEntry>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lastWholeAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lastWholeAnswer = new TaskCompletionSource<IReadOnlyList<LogEntry>>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<IReadOnlyList<LogEntry>> Load(long after, CancellationToken ct)
        {
            lock (stored)
            {
                if (after > 0)
                {
                    tailAsked.TrySetResult();
                    return tailAnswer.Task;
                }
                if (++wholeReads == 1) return Task.FromResult<IReadOnlyList<LogEntry>>([.. stored]);
                lastWholeAsked.TrySetResult();
                return lastWholeAnswer.Task;
            }
        }
        var viewer = Render<LogViewer>(p => p.Add(v => v.ExecutionId, 82L).Add(v => v.Attempt, 1).Add(v => v.Stream, LogStream.Output)
            .Add(v => v.Live, true).Add(v => v.RunsElsewhere, true).Add(v => v.Load, Load));
        viewer.WaitForAssertion(() => Assert.Equal("a\n", viewer.Find("pre").TextContent), Deadline);
        await tailAsked.Task.WaitAsync(Deadline);
        lock (stored)
        {
            stored.Add(new LogEntry { Id = 2, ExecutionId = 82, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow, Text = "b\n" });
            stored.Add(new LogEntry { Id = 3, ExecutionId = 82, AttemptNumber = 1, Stream = LogStream.Output, At = DateTimeOffset.UtcNow, Text = "c\n" });
        }

        // The attempt ends while the tail read is out; the tail read comes back while the log is read whole.
        _events.Publish(new StateChanged(82, DateTimeOffset.UtcNow, ExecutionState.Running, ExecutionState.Succeeded, Transition.Succeed, 1, null, "other-node"));
        await lastWholeAsked.Task.WaitAsync(Deadline);
        lock (stored) tailAnswer.SetResult(stored.Where(l => l.Id > 1).ToList());
        await Task.Delay(TimeSpan.FromMilliseconds(300)); // the tail read's lines are queued before the whole read answers
        lock (stored) lastWholeAnswer.SetResult([.. stored]);

        viewer.WaitForAssertion(() => Assert.Equal("a\nb\nc\n", viewer.Find("pre").TextContent), Deadline);
        // The tail read's lines wait for the next refresh after the whole read; give it time to come.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal("a\nb\nc\n", viewer.Find("pre").TextContent);
    }

    /// <summary>An attempt running here publishes its lines: its log is read once, however long it runs.</summary>
    [Fact]
    public async Task LogViewer_OfAnAttemptRunningHere_ReadsTheStoreOnce()
    {
        var loads = 0;
        Task<IReadOnlyList<LogEntry>> Load(long after, CancellationToken ct)
        {
            Interlocked.Increment(ref loads);
            return Task.FromResult<IReadOnlyList<LogEntry>>([]);
        }
        var viewer = Render<LogViewer>(p => p.Add(v => v.ExecutionId, 81L).Add(v => v.Attempt, 1).Add(v => v.Stream, LogStream.Output)
            .Add(v => v.Live, true).Add(v => v.Load, Load));
        viewer.WaitForAssertion(() => Assert.Equal("Nothing was written to this log.", viewer.Find("pre").TextContent), Deadline);

        await Task.Delay(LogTailModel.RemoteTailInterval * 2.5);

        Assert.Equal(1, Volatile.Read(ref loads));
    }

    [Fact]
    public async Task AModelWithNoViewerLeft_IsDisposedAndDropped_WhateverItsKind()
    {
        var (tag, ids) = await ScheduledAsync(1);
        var viewers = new List<IAsyncDisposable>
        {
            _live.WatchExecutions(new ExecutionGridQuery(Tag: tag), null, _ => Task.CompletedTask),
            _live.WatchExecutions(new ExecutionGridQuery(Tag: tag), null, _ => Task.CompletedTask),
            _live.WatchExecution(ids[0], null, _ => Task.CompletedTask),
            _live.WatchLog(ids[0], 1, LogStream.Output, (_, _) => Task.FromResult<IReadOnlyList<LogEntry>>([]), false, null, _ => Task.CompletedTask),
            _live.WatchDagRuns(new DagRunListQuery(null, tag, null, 0, 25), null, _ => Task.CompletedTask),
            _live.WatchWorkTasks(new WorkTaskListQuery(null, tag, null, 0, 25), null, _ => Task.CompletedTask),
        };
        var grid = (LiveViewer<ExecutionGridSnapshot>)viewers[0];
        var work = (LiveViewer<LiveList<Taskdeck.Data.WorkTasks.WorkTaskRow>>)viewers[5];
        await grid.CurrentAsync();
        await ((LiveViewer<ExecutionDetailSnapshot>)viewers[2]).CurrentAsync();
        await work.CurrentAsync();
        Assert.Equal(5, _live.Models.Count);

        await viewers[0].DisposeAsync();
        Assert.Equal(5, _live.Models.Count); // another page still shows that filter
        foreach (var viewer in viewers.Skip(1)) await viewer.DisposeAsync();

        Assert.Empty(_live.Models);
    }

    [Fact]
    public async Task PagesThatTakeLongToDrawAnUpdate_StretchTheModelsInterval_UpToItsCeiling()
    {
        var (tag, ids) = await ScheduledAsync(2);
        var cadence = new LiveCadence();
        var deliveries = new List<DateTime>();
        // Ten pages, each taking at least 20 ms to draw an update: 200 ms a refresh, which at 1/20 of a core is 4 s; the
        // ceiling (2 s) holds it.
        var viewers = Enumerable.Range(0, 10).Select(slot => _live.WatchExecutions(new ExecutionGridQuery(Tag: tag), null, _ =>
        {
            if (slot == 0) lock (deliveries) deliveries.Add(DateTime.UtcNow);
            Thread.Sleep(20);
            return Task.CompletedTask;
        })).ToList();
        try
        {
            await viewers[0].CurrentAsync();
            var model = viewers[0].Model;
            Assert.Equal(TimeSpan.Zero, model.RenderCost);

            _events.Publish(Claimed(ids[0]));
            await WaitAsync(() => model.RenderCost >= TimeSpan.FromMilliseconds(200));
            Assert.Equal(cadence.MaxInterval, model.Interval);

            _events.Publish(Claimed(ids[1]));
            await WaitAsync(() => { lock (deliveries) return deliveries.Count == 2; });
            Assert.True(deliveries[1] - deliveries[0] >= cadence.MaxInterval - TimeSpan.FromMilliseconds(50),
                $"The second update came {(deliveries[1] - deliveries[0]).TotalMilliseconds:F0} ms after the first.");
            // The registry's totals (exported on /api/metrics) count the pages' drawing and the model's queries.
            Assert.True(_live.Work.Drawing >= TimeSpan.FromMilliseconds(200), $"drawing counted: {_live.Work.Drawing}");
            Assert.True(_live.Work.Queries >= 1);
        }
        finally
        {
            foreach (var viewer in viewers) await viewer.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(0, 0, 250)]       // cheap and quiet: the floor
    [InlineData(40, 0, 800)]      // a refresh of 40 ms (query and drawing) runs at most every 800 ms
    [InlineData(5, 200, 1000)]    // busy: rows that change 200 times a second repaint once a second
    [InlineData(500, 0, 2000)]    // however costly, a change shows within the ceiling
    public void Cadence_FollowsRefreshCostAndRateOfChange(int costMs, double rate, int expectedMs)
    {
        var cadence = new LiveCadence();
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), cadence.Next(TimeSpan.FromMilliseconds(costMs), rate));
    }

    [Theory]
    [InlineData(5, 200, 1.0, 1000)]   // the live views keep within their budget: as above
    [InlineData(5, 200, 1.5, 1500)]   // over it: every interval is stretched
    [InlineData(0, 0, 3.0, 750)]      // the floor too
    [InlineData(5, 200, 4.0, 2000)]   // never beyond the ceiling
    public void Cadence_IsStretchedByTheLiveViewsBudget(int costMs, double rate, double stretch, int expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), new LiveCadence().Next(TimeSpan.FromMilliseconds(costMs), rate, stretch));

    /// <summary>
    /// The views' shared budget: what they spent over the last window, against the share of a core they may spend, stretches
    /// every interval — up when they spend more, back to none when they spend less.
    /// </summary>
    [Fact]
    public void TheLiveViewsStretch_FollowsWhatTheySpentAgainstTheirBudget()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var work = new LiveWork();
        var grid = work.For("ExecutionGrid");
        Assert.Equal(1, work.Stretch(0.10, time));

        // 300 ms of queries and drawing in 2 s: 15 % of a core against a budget of 10 %; the step is damped (its root).
        grid.AddQuery(TimeSpan.FromMilliseconds(100));
        grid.AddRender(TimeSpan.FromMilliseconds(200));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, work.Stretch(0.10, time)); // not measured again before the window has passed
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(Math.Sqrt(1.5), work.Stretch(0.10, time), 3);

        // Stretched, they spent 10 %: it holds.
        grid.AddRender(TimeSpan.FromMilliseconds(200));
        time.Advance(LiveWork.StretchWindow);
        Assert.Equal(Math.Sqrt(1.5), work.Stretch(0.10, time), 3);

        // A view that spends far more whatever its interval (held at the ceiling by its own cost) stretches the others
        // at most twofold.
        for (var window = 0; window < 5; window++)
        {
            grid.AddQuery(TimeSpan.FromSeconds(1));
            time.Advance(LiveWork.StretchWindow);
            work.Stretch(0.10, time);
        }
        Assert.Equal(LiveWork.MaxStretch, work.CurrentStretch);

        // All pages closed: nothing spent, no stretch.
        time.Advance(LiveWork.StretchWindow);
        Assert.Equal(1, work.Stretch(0.10, time));
        Assert.Equal(1, work.CurrentStretch);
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The live model did not get there in time.");
            await Task.Delay(20);
        }
    }

    private sealed class Narrowed(IDbContextFactory<SqliteTaskdeckDbContext> inner) : IDbContextFactory<TaskdeckDbContext>
    {
        public TaskdeckDbContext CreateDbContext() => inner.CreateDbContext();
        public async Task<TaskdeckDbContext> CreateDbContextAsync(CancellationToken ct = default) => await inner.CreateDbContextAsync(ct);
    }

    /// <summary>Counts every command sent to the database through these contexts.</summary>
    private sealed class CommandCounter : DbCommandInterceptor
    {
        private int _count;
        public int Count => Volatile.Read(ref _count);

        public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
        {
            Interlocked.Increment(ref _count);
            return result;
        }

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken ct = default)
        {
            Interlocked.Increment(ref _count);
            return ValueTask.FromResult(result);
        }

        public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
        {
            Interlocked.Increment(ref _count);
            return result;
        }

        public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken ct = default)
        {
            Interlocked.Increment(ref _count);
            return ValueTask.FromResult(result);
        }
    }
}
