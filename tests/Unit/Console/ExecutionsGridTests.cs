using Microsoft.AspNetCore.Components;
using Bunit;
using MudBlazor;
using Taskdeck.Console.Components.Executions;
using Taskdeck.Core.Executions;

namespace Taskdeck.Unit.Console;

public sealed class ExecutionsGridTests : MudTestContext
{
    private static Execution Row(long id, ExecutionState state) => new()
    {
        Id = id, TaskId = $"t-{id}", Name = "demo.sleep", State = state, Queue = "default", AttemptCount = 1,
        CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>The grid as the executions page draws it for a user who may operate.</summary>
    private IRenderedComponent<ExecutionsGrid> RenderGrid(params Execution[] rows) =>
        Render<ExecutionsGrid>(p => p.Add(g => g.ServerData, (_, _) => Task.FromResult(new GridData<Execution> { Items = rows, TotalItems = rows.Length }))
            .Add(g => g.MayOperate, true));

    [Fact]
    public void Grid_RendersAStateChipPerRow_ColouredByState()
    {
        var cut = RenderGrid(Row(1, ExecutionState.Failed), Row(2, ExecutionState.Running), Row(3, ExecutionState.Succeeded));

        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll(".state-chip").Count));
        var chips = cut.FindAll(".state-chip");
        Assert.Equal(new[] { "Failed", "Running", "Succeeded" }, chips.Select(c => c.TextContent.Trim()).ToArray());
        Assert.Contains("mud-chip-color-error", chips[0].ClassName);
        Assert.Contains("mud-chip-color-info", chips[1].ClassName);
        Assert.Contains("mud-chip-color-success", chips[2].ClassName);
    }

    /// <summary>
    /// The page answers "may this user operate?" once (RoleViewTests pins that a Viewer's page says no); the grid follows that
    /// answer and does not ask the policies itself: here the signed-in test user holds every policy, and still no row action
    /// is drawn while the page has not said so.
    /// </summary>
    [Fact]
    public void Grid_ForAUserWhoMayOnlyRead_DrawsNoRowActions()
    {
        Execution[] rows = [Row(1, ExecutionState.Failed), Row(2, ExecutionState.Running)];
        var cut = Render<ExecutionsGrid>(p => p.Add(g => g.ServerData, (_, _) => Task.FromResult(new GridData<Execution> { Items = rows, TotalItems = 2 })));

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".state-chip").Count));
        Assert.Empty(cut.FindAll(".actions-cell button"));

        cut.Render(p => p.Add(g => g.MayOperate, true));

        cut.WaitForAssertion(() => Assert.Equal(6, cut.FindAll(".actions-cell button").Count));
    }

    [Fact]
    public void Grid_DisablesActionsThatDoNotApplyToTheRowsState()
    {
        var cut = RenderGrid(Row(1, ExecutionState.Failed), Row(2, ExecutionState.Running), Row(3, ExecutionState.Queued));
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll(".state-chip").Count));

        bool Disabled(string label) => cut.Find($"button[aria-label='{label}']").HasAttribute("disabled");
        // Failed: retry and delete, not cancel.
        Assert.True(Disabled("Cancel #1"));
        Assert.False(Disabled("Retry #1"));
        Assert.False(Disabled("Delete #1"));
        // Running: cancel only.
        Assert.False(Disabled("Cancel #2"));
        Assert.True(Disabled("Retry #2"));
        Assert.True(Disabled("Delete #2"));
        // Queued: cancel only.
        Assert.False(Disabled("Cancel #3"));
        Assert.True(Disabled("Retry #3"));
        Assert.True(Disabled("Delete #3"));
    }

    [Fact]
    public void Grid_NamesEachRowAction_OnASpanAroundIt_SoADisabledOneStillSaysWhatItIsAndWhyItIsDisabled()
    {
        var cut = RenderGrid(Row(1, ExecutionState.Failed));
        cut.WaitForAssertion(() => cut.Find("button[aria-label='Cancel #1']"));

        // A disabled MudIconButton takes no pointer events: the hover name must be on the element around it.
        string Hover(string label) => cut.Find($"button[aria-label='{label}']").Closest("span.row-action")?.GetAttribute("title") ?? "(no span)";
        Assert.False(cut.Find("button[aria-label='Retry #1']").HasAttribute("disabled"));
        Assert.Equal("Retry", Hover("Retry #1"));
        Assert.True(cut.Find("button[aria-label='Cancel #1']").HasAttribute("disabled"));
        Assert.Equal("Cancel — only pending, scheduled, queued or running executions can be cancelled", Hover("Cancel #1"));
    }

    [Fact]
    public void Grid_ClickingRetry_HandsTheRowToThePage()
    {
        IReadOnlyList<Execution>? retried = null;
        var rows = new[] { Row(7, ExecutionState.Failed) };
        var cut = Render<ExecutionsGrid>(p => p
            .Add(g => g.ServerData, (_, _) => Task.FromResult(new GridData<Execution> { Items = rows, TotalItems = 1 }))
            .Add(g => g.OnRetry, items => retried = items)
            .Add(g => g.MayOperate, true));
        // A generous wait: under two full test runs side by side the grid's first renders once kept the renderer busy
        // past the default wait before the check ran at all (a wait ends as soon as it holds).
        cut.WaitForAssertion(() => cut.Find("button[aria-label='Retry #7']"), TimeSpan.FromSeconds(30));

        cut.Find("button[aria-label='Retry #7']").Click();

        cut.WaitForAssertion(() => Assert.NotNull(retried), TimeSpan.FromSeconds(30));
        Assert.Equal(7, Assert.Single(retried!).Id);
        // The click is the button's: the row does not take it too (MudDataGrid selects a row clicked anywhere).
        Assert.Empty(Ticked(cut));
    }

    /// <summary>A click on a row's box is the box's: the row does not toggle its selection too before the box's change comes.</summary>
    [Fact]
    public void Grid_AClickOnARowsSelectionBox_IsNotTheRowsClick()
    {
        HashSet<Execution>? handedBack = null;
        var cut = RenderSelectable(new HashSet<Execution>(ExecutionById.Instance), items => handedBack = items, Row(1, ExecutionState.Failed));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".state-chip")));

        // bUnit hands a click up through the elements to the first that handles it: it stops at the box's label, so no
        // handler takes it — the row's (which toggles the row's selection) among them.
        Assert.Throws<MissingEventHandlerException>(() => cut.Find("tbody tr.mud-table-row input[type=checkbox]").Click());

        Assert.Empty(Ticked(cut));
        Assert.Null(handedBack);
    }

    /// <summary>
    /// Every component a row draws is kept with its render tree by every open page (issue 15: 50 pages held ≈ 20,000), and on
    /// a busy node every row is new at each refresh, its components made and disposed again: a row is one component, its
    /// actions, selection box, state chip and time drawn as markup.
    /// </summary>
    [Fact]
    public void AGridRow_IsOneComponent_ItsActions_SelectionBox_StateAndTime_DrawnAsMarkup()
    {
        int ComponentsWith(int rows)
        {
            var cut = RenderGrid(Enumerable.Range(1, rows).Select(i => Row(i, ExecutionState.Failed)).ToArray());
            cut.WaitForAssertion(() => Assert.Equal(3 * rows, cut.FindAll(".actions-cell button").Count));
            Assert.Equal(rows, cut.FindAll("tbody tr.mud-table-row input[type=checkbox]").Count);
            Assert.Equal(rows, cut.FindAll("tbody .state-chip").Count);
            Assert.Equal(rows, cut.FindAll("tbody .local-time").Count);
            return cut.FindComponents<IComponent>().Count;
        }

        var perRow = (ComponentsWith(6) - ComponentsWith(2)) / 4.0;

        // Seven before (five live cells, a time, a state chip); 18 with MudIconButtons, MudCheckBox, MudChip and MudDataGrid's own.
        Assert.Equal(1, perRow);
    }

    [Fact]
    public void Grid_ARowTickedAndUntickedByTheUser_LeavesTheSelectionEmpty()
    {
        Execution[] rows = [Row(1, ExecutionState.Failed), Row(2, ExecutionState.Running)];
        HashSet<Execution>? handedBack = null;
        var cut = RenderSelectable(new HashSet<Execution>(ExecutionById.Instance), items => handedBack = items, rows);
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".state-chip").Count));

        cut.FindAll("tbody tr.mud-table-row input[type=checkbox]")[0].Change(true);
        cut.WaitForAssertion(() => Assert.Equal([1L], Ticked(cut)));
        Assert.Equal([1L], handedBack!.Select(e => e.Id));

        cut.FindAll("tbody tr.mud-table-row input[type=checkbox]")[0].Change(false);
        cut.WaitForAssertion(() => Assert.Empty(Ticked(cut)));
        Assert.Empty(handedBack!);
    }

    /// <summary>The ids of the rows whose checkbox is ticked.</summary>
    private static List<long> Ticked(IRenderedComponent<ExecutionsGrid> cut) =>
        cut.FindAll("tbody tr.mud-table-row").Where(r => r.QuerySelector("input[type=checkbox]")?.HasAttribute("checked") == true)
            .Select(r => long.Parse(r.QuerySelector("a[href^='/executions/']")!.GetAttribute("href")!["/executions/".Length..])).ToList();

    private IRenderedComponent<ExecutionsGrid> RenderSelectable(HashSet<Execution> selected, Action<HashSet<Execution>>? changed, params Execution[] rows) =>
        Render<ExecutionsGrid>(p => p
            .Add(g => g.ServerData, (_, _) => Task.FromResult(new GridData<Execution> { Items = rows, TotalItems = rows.Length }))
            .Add(g => g.SelectedItems, selected)
            .Add(g => g.SelectedItemsChanged, items => changed?.Invoke(items)));

    /// <summary>
    /// The grid skips the page's renders that change nothing it draws; the selection is one of those things by what it holds,
    /// not only by which set it is: the page's own set, changed in place and handed again, is drawn.
    /// </summary>
    [Fact]
    public void Grid_ASelectionChangedInPlace_IsDrawn_AsANewSetWouldBe()
    {
        Execution[] rows = [Row(1, ExecutionState.Failed), Row(2, ExecutionState.Running), Row(3, ExecutionState.Queued)];
        var selected = new HashSet<Execution>(ExecutionById.Instance) { rows[0] };
        var cut = RenderSelectable(selected, null, rows);
        cut.WaitForAssertion(() => Assert.Equal([1L], Ticked(cut)));

        selected.Add(rows[2]);
        cut.Render(p => p.Add(g => g.SelectedItems, selected));
        cut.WaitForAssertion(() => Assert.Equal([1L, 3L], Ticked(cut)));

        selected.Clear();
        cut.Render(p => p.Add(g => g.SelectedItems, selected));
        cut.WaitForAssertion(() => Assert.Empty(Ticked(cut)));
    }

    /// <summary>A row the user ticks is drawn by the grid at once: the page handing the same set back draws nothing again.</summary>
    [Fact]
    public void Grid_ARowTickedByTheUser_IsNotDrawnAgain_WhenThePageHandsTheSetBack()
    {
        Execution[] rows = [Row(1, ExecutionState.Failed), Row(2, ExecutionState.Running)];
        HashSet<Execution>? handedBack = null;
        var cut = RenderSelectable(new HashSet<Execution>(ExecutionById.Instance), items => handedBack = items, rows);
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".state-chip").Count));

        cut.FindAll("tbody tr.mud-table-row input[type=checkbox]")[1].Change(true);

        cut.WaitForAssertion(() => Assert.Equal([2L], Ticked(cut)));
        Assert.NotNull(handedBack);
        var renders = cut.Instance.OwnRenders;
        cut.Render(p => p.Add(g => g.SelectedItems, handedBack!));
        Assert.Equal([2L], Ticked(cut));
        Assert.Equal(renders, cut.Instance.OwnRenders);
    }

    /// <summary>The rows a server page is asked for: the grid passes its sort and page to the page's loader.</summary>
    private IRenderedComponent<ExecutionsGrid> RenderPaged(int total, List<GridState<Execution>> asked) =>
        Render<ExecutionsGrid>(p => p.Add(g => g.ServerData, (state, _) =>
        {
            lock (asked) asked.Add(state);
            var rows = Enumerable.Range(state.Page * state.PageSize + 1, Math.Max(0, Math.Min(state.PageSize, total - state.Page * state.PageSize)))
                .Select(i => Row(i, ExecutionState.Succeeded)).ToArray();
            return Task.FromResult(new GridData<Execution> { Items = rows, TotalItems = total });
        }));

    private static (string? By, bool Descending) SortOf(GridState<Execution> state) =>
        state.SortDefinitions.FirstOrDefault() is { } sort ? (sort.SortBy, sort.Descending) : (null, false);

    [Fact]
    public void Grid_AColumnHeaderClicked_SortsAscending_AndClickedAgain_Descending()
    {
        var asked = new List<GridState<Execution>>();
        var cut = RenderPaged(3, asked);
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll(".state-chip").Count));
        Assert.Equal((nameof(Execution.Id), true), SortOf(asked[^1]));
        Assert.Equal("Id", cut.Find("th[aria-sort='descending']").TextContent.Trim());

        cut.Find("button[aria-label='Sort by Task']").Click();
        cut.WaitForAssertion(() => Assert.Equal((nameof(Execution.Name), false), SortOf(asked[^1])));
        cut.WaitForAssertion(() => Assert.Equal("Task", cut.Find("th[aria-sort='ascending']").TextContent.Trim()));
        Assert.Empty(cut.FindAll("th[aria-sort='descending']"));

        cut.FindAll(".sortable-column-header").Single(h => h.TextContent == "Task").Click();
        cut.WaitForAssertion(() => Assert.Equal((nameof(Execution.Name), true), SortOf(asked[^1])));

        cut.Find("button[aria-label='Sort by Id']").Click();
        cut.WaitForAssertion(() => Assert.Equal((nameof(Execution.Id), false), SortOf(asked[^1])));
        Assert.Equal("Id", cut.Find("th[aria-sort='ascending']").TextContent.Trim());
    }

    /// <summary>A click anywhere on a row ticks it, and clears it again, as MudDataGrid's rows did; its box and buttons keep their clicks.</summary>
    [Fact]
    public void Grid_AClickOnARow_TicksIt_AndAnotherClearsIt()
    {
        HashSet<Execution>? handedBack = null;
        var cut = RenderSelectable(new HashSet<Execution>(ExecutionById.Instance), items => handedBack = items, Row(1, ExecutionState.Failed), Row(2, ExecutionState.Failed));
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".state-chip").Count));

        cut.FindAll("tbody tr.mud-table-row")[1].Click();
        cut.WaitForAssertion(() => Assert.Equal([2L], Ticked(cut)));
        Assert.Equal([2L], handedBack!.Select(e => e.Id));
        Assert.Equal("true", cut.FindAll("tbody tr.mud-table-row")[1].GetAttribute("aria-selected"));

        cut.FindAll("tbody tr.mud-table-row")[1].Click();
        cut.WaitForAssertion(() => Assert.Empty(Ticked(cut)));
        Assert.Empty(handedBack!);
    }

    /// <summary>A filter changed on page 3 shows the first page of its rows, not the third.</summary>
    [Fact]
    public async Task Grid_ReloadedFromTheFirstPage_AsksForPageOne()
    {
        var asked = new List<GridState<Execution>>();
        var cut = RenderPaged(60, asked);
        cut.WaitForAssertion(() => Assert.Equal(25, cut.FindAll(".state-chip").Count));
        cut.Find("button[aria-label='Last page']").Click();
        cut.WaitForAssertion(() => Assert.Equal("51-60 of 60", cut.Find(".page-info").TextContent.Trim()));

        await cut.InvokeAsync(() => cut.Instance.ReloadFromFirstPageAsync());

        cut.WaitForAssertion(() => Assert.Equal("1-25 of 60", cut.Find(".page-info").TextContent.Trim()));
        Assert.Equal(0, asked[^1].Page);
    }

    /// <summary>Rows deleted from under the last page: the grid shows the last page there still is, not an empty one.</summary>
    [Fact]
    public async Task Grid_APageEmptiedUnderIt_ShowsTheLastPageThereStillIs()
    {
        var total = 60;
        var asked = new List<GridState<Execution>>();
        var cut = Render<ExecutionsGrid>(p => p.Add(g => g.ServerData, (state, _) =>
        {
            lock (asked) asked.Add(state);
            var count = Math.Max(0, Math.Min(state.PageSize, total - state.Page * state.PageSize));
            var rows = Enumerable.Range(state.Page * state.PageSize + 1, count).Select(i => Row(i, ExecutionState.Succeeded)).ToArray();
            return Task.FromResult(new GridData<Execution> { Items = rows, TotalItems = total });
        }));
        cut.WaitForAssertion(() => Assert.Equal(25, cut.FindAll(".state-chip").Count));
        cut.Find("button[aria-label='Last page']").Click();
        cut.WaitForAssertion(() => Assert.Equal("51-60 of 60", cut.Find(".page-info").TextContent.Trim()));

        total = 40;
        await cut.InvokeAsync(() => cut.Instance.ReloadQuietlyAsync());

        cut.WaitForAssertion(() => Assert.Equal("26-40 of 40", cut.Find(".page-info").TextContent.Trim()));
        Assert.Equal(15, cut.FindAll(".state-chip").Count);
    }

    [Fact]
    public void Grid_ThePagerMovesThroughThePages_AndSaysWhichRowsItShows()
    {
        var asked = new List<GridState<Execution>>();
        var cut = RenderPaged(60, asked);
        cut.WaitForAssertion(() => Assert.Equal(25, cut.FindAll(".state-chip").Count));
        Assert.Equal("1-25 of 60", cut.Find(".page-info").TextContent.Trim());
        Assert.True(cut.Find("button[aria-label='Previous page']").HasAttribute("disabled"));

        cut.Find("button[aria-label='Next page']").Click();
        cut.WaitForAssertion(() => Assert.Equal("26-50 of 60", cut.Find(".page-info").TextContent.Trim()));
        Assert.Equal((1, 25), (asked[^1].Page, asked[^1].PageSize));

        cut.Find("button[aria-label='Last page']").Click();
        cut.WaitForAssertion(() => Assert.Equal("51-60 of 60", cut.Find(".page-info").TextContent.Trim()));
        Assert.Equal(10, cut.FindAll(".state-chip").Count);
        Assert.True(cut.Find("button[aria-label='Next page']").HasAttribute("disabled"));

        cut.Find("button[aria-label='First page']").Click();
        cut.WaitForAssertion(() => Assert.Equal("1-25 of 60", cut.Find(".page-info").TextContent.Trim()));
        Assert.Equal(0, asked[^1].Page);
    }

    [Fact]
    public void Grid_SelectAll_TicksEveryRowOnThePage_AndClearsThemAgain()
    {
        Execution[] rows = [Row(1, ExecutionState.Failed), Row(2, ExecutionState.Running), Row(3, ExecutionState.Queued)];
        HashSet<Execution>? handedBack = null;
        var cut = RenderSelectable(new HashSet<Execution>(ExecutionById.Instance), items => handedBack = items, rows);
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll(".state-chip").Count));

        cut.Find("thead input[aria-label='Select all rows']").Change(true);
        cut.WaitForAssertion(() => Assert.Equal([1L, 2L, 3L], Ticked(cut)));
        Assert.Equal([1L, 2L, 3L], handedBack!.Select(e => e.Id).Order());

        cut.Find("thead input[aria-label='Select all rows']").Change(false);
        cut.WaitForAssertion(() => Assert.Empty(Ticked(cut)));
        Assert.Empty(handedBack!);
    }
}
