using System.Text.Json;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Console.Components.Dags;
using Taskdeck.Console.Components.Schedules;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Components.WorkTasks;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.Dags;
using Taskdeck.Data.WorkTasks;
using Taskdeck.Unit.Console;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Live;

/// <summary>
/// The DAG runs, work tasks and schedules pages on their shared live list models, as the executions page: a row entering
/// the page while it is open draws the grid once, without MudDataGrid's loading bar (its own reload renders the progress row,
/// awaits the rows, then renders twice more). Execution events come on the test's own bus (as the change follower publishes
/// another node's changes), so only what a test publishes moves a DAG run or work task page.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class LiveGridPagesTests(EngineHost host) : AppTestContext(host)
{
    private ExecutionEvents Events => Services.GetRequiredService<ExecutionEvents>();

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task DagRunsPage_ARunEnteringIt_RedrawsTheGridOnce_WithoutALoadingBar()
    {
        var tag = Unique("quiet-dags");
        await SubmitRunAsync(tag);
        await SubmitRunAsync(tag);
        var cut = RenderAt<DagRunsPage>($"/dags?tag={tag}", rows: 2, row: "a[href^='/dags/']");
        var quiet = await WatchAsync<DagRunsPage, DagRunListItem>(cut);

        var (runId, executionId) = await SubmitRunAsync(tag);
        Events.Publish(new StateChanged(executionId, DateTimeOffset.UtcNow, null, ExecutionState.Queued, Transition.Submit, 0, runId, "another-node"));

        await quiet.AssertRedrawnOnceAsync(() => Assert.Contains($"/dags/{runId}", cut.Markup));
    }

    /// <summary>
    /// A run entering the top of the page must not cost the rows below it: MudDataGrid drew each row from a fragment of its
    /// own, so no row's key matched once the rows had moved down, and every open page dropped and made again every row's
    /// components at every new run. The rows' task bars are listed top to bottom: the two shown before are the same
    /// components, one place lower.
    /// </summary>
    [Fact]
    public async Task DagRunsPage_ARunEnteringIt_KeepsTheRowsItShowedAlready_TheirComponentsNotMadeAgain()
    {
        var tag = Unique("kept-dags");
        await SubmitRunAsync(tag);
        await SubmitRunAsync(tag);
        var cut = RenderAt<DagRunsPage>($"/dags?tag={tag}", rows: 2, row: "a[href^='/dags/']");
        await cut.SettledAsync(Deadline);
        var before = cut.FindComponents<TaskCountBar>().Select(c => c.Instance).ToList();

        var (runId, executionId) = await SubmitRunAsync(tag);
        Events.Publish(new StateChanged(executionId, DateTimeOffset.UtcNow, null, ExecutionState.Queued, Transition.Submit, 0, runId, "another-node"));

        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindComponents<TaskCountBar>().Count), Deadline);
        await cut.SettledAsync(Deadline);
        var after = cut.FindComponents<TaskCountBar>().Select(c => c.Instance).ToList();
        Assert.Contains($"/dags/{runId}", cut.Find("tbody tr.mud-table-row").InnerHtml);
        Assert.Same(before[0], after[1]);
        Assert.Same(before[1], after[2]);
    }

    [Fact]
    public async Task WorkTasksPage_ATaskEnteringIt_RedrawsTheGridOnce_WithoutALoadingBar()
    {
        var project = Unique("quiet-work");
        await SubmitWorkTaskAsync(project);
        await SubmitWorkTaskAsync(project);
        var cut = RenderAt<WorkTasksPage>($"/worktasks?project={project}", rows: 2, row: "a[href^='/executions/']");
        var quiet = await WatchAsync<WorkTasksPage, WorkTaskRow>(cut);

        var added = await SubmitWorkTaskAsync(project);
        Events.Publish(new StateChanged(added, DateTimeOffset.UtcNow, null, ExecutionState.Queued, Transition.Submit, 0, null, "another-node"));

        await quiet.AssertRedrawnOnceAsync(() => Assert.Contains($"/executions/{added}", cut.Markup));
    }

    /// <summary>A new schedule changes the page's total too: the page renders for it, and the grid must still be drawn once.</summary>
    [Fact]
    public async Task SchedulesPage_AScheduleEnteringIt_RedrawsTheGridOnce_WithoutALoadingBar()
    {
        var prefix = Unique("quiet-schedules");
        await CreateScheduleAsync(prefix + "-a");
        await CreateScheduleAsync(prefix + "-b");
        var cut = RenderAt<SchedulesPage>($"/schedules?q={prefix}", rows: 2, row: "a.schedule-name");
        var quiet = await WatchAsync<SchedulesPage, ScheduleView>(cut);

        // The service announces it on the app's schedule events, which the page's model follows.
        await CreateScheduleAsync(prefix + "-c");

        await quiet.AssertRedrawnOnceAsync(() => Assert.Contains(prefix + "-c", cut.Markup));
        Assert.Contains("3 schedules", cut.Find("[data-total]").TextContent);
    }

    private IRenderedComponent<TPage> RenderAt<TPage>(string url, int rows, string row) where TPage : class, IComponent
    {
        // The filter lives in the URL, as a shared link would carry it.
        Services.GetRequiredService<NavigationManager>().NavigateTo(url);
        var cut = Render<TPage>();
        cut.WaitForAssertion(() => Assert.Equal(rows, cut.FindAll($"tbody tr.mud-table-row {row}").Select(a => a.GetAttribute("href")).Distinct().Count()), Deadline);
        return cut;
    }

    /// <summary>Once the page's first load is over, counts the grid's own renders and every markup update that shows its loading bar.</summary>
    private static async Task<QuietWatch<TPage, TRow>> WatchAsync<TPage, TRow>(IRenderedComponent<TPage> cut) where TPage : class, IComponent where TRow : class
    {
        await cut.SettledAsync(Deadline);
        return new QuietWatch<TPage, TRow>(cut, cut.FindComponent<KeyedTable<TRow>>());
    }

    private sealed class QuietWatch<TPage, TRow> where TPage : class, IComponent where TRow : class
    {
        private readonly IRenderedComponent<TPage> _page;
        private readonly IRenderedComponent<KeyedTable<TRow>> _grid;
        private readonly int _renders;
        private int _loadingShown;

        public QuietWatch(IRenderedComponent<TPage> page, IRenderedComponent<KeyedTable<TRow>> grid)
        {
            _page = page;
            _grid = grid;
            _renders = grid.Instance.OwnRenders;
            grid.OnMarkupUpdated += (_, _) => { if (grid.Markup.Contains("mud-table-loading")) Interlocked.Increment(ref _loadingShown); };
        }

        public async Task AssertRedrawnOnceAsync(Action entered)
        {
            _page.WaitForAssertion(entered, Deadline);
            await _page.SettledAsync(Deadline);
            // (markup updates showing the loading bar, renders of the grid since the watch began)
            Assert.Equal((0, 1), (Volatile.Read(ref _loadingShown), _grid.Instance.OwnRenders - _renders));
        }
    }

    private async Task<(long RunId, long ExecutionId)> SubmitRunAsync(string tag)
    {
        var spec = JsonDocument.Parse("""{"tag":"TAG","tasks":{"only":{"job":{"task":"demo.noop"}}}}""".Replace("TAG", tag)).RootElement;
        var runId = (await Host.Get<DagService>().SubmitAsync(spec)).RunId!.Value;
        return (runId, (await Host.Get<IDagStore>().FindTaskAsync(runId, "only"))!.ExecutionId);
    }

    /// <summary>An external work task: it waits for a worker outside Taskdeck, so nothing moves it meanwhile.</summary>
    private async Task<long> SubmitWorkTaskAsync(string project) =>
        (await Host.Get<WorkTaskService>().SubmitAsync(new WorkTaskSubmission { Type = "pipeline_execution", ProjectId = project })).Execution.Id;

    /// <summary>A paused schedule: it never fires while the test watches.</summary>
    private async Task CreateScheduleAsync(string name)
    {
        var outcome = await Host.Get<ScheduleService>().CreateAsync(new ScheduleDraft
        {
            Name = name, Cron = "0 3 1 1 *", Enabled = false, Kind = ScheduleTargetKind.Handler, Task = "demo.noop",
        }, Actor.System);
        Assert.True(outcome.Done, outcome.Message);
    }
}
