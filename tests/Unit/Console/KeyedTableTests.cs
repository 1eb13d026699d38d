using Bunit;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Components.Shared;

namespace Taskdeck.Unit.Console;

/// <summary>The table under the DAG runs, work tasks and schedules pages: paged on the server, rows keyed by id.</summary>
public sealed class KeyedTableTests : MudTestContext
{
    private sealed record Item(int Id, string Name);

    private static readonly TableColumn[] Columns = [new("Id"), new("Name", "name-cell")];

    private static readonly RenderFragment<Item> Cells = item => builder =>
    {
        builder.OpenElement(0, "td");
        builder.AddAttribute(1, "class", "mud-table-cell");
        builder.AddContent(2, item.Id);
        builder.CloseElement();
        builder.OpenElement(3, "td");
        builder.AddAttribute(4, "class", "mud-table-cell name-cell");
        builder.AddContent(5, item.Name);
        builder.CloseElement();
    };

    private IRenderedComponent<KeyedTable<Item>> RenderTable(Func<GridState<Item>, CancellationToken, Task<GridData<Item>>> read, string empty = "Nothing here.") =>
        Render<KeyedTable<Item>>(p => p.Add(t => t.ServerData, read).Add(t => t.Key, i => i.Id).Add(t => t.Columns, Columns)
            .Add(t => t.RowTemplate, Cells).Add(t => t.EmptyText, empty));

    /// <summary>Ids 1..total, newest first, read a page at a time as the server would.</summary>
    private static Func<GridState<Item>, CancellationToken, Task<GridData<Item>>> Pages(int total, List<(int Page, int Size)>? asked = null) => (state, _) =>
    {
        asked?.Add((state.Page, state.PageSize));
        var rows = Enumerable.Range(1, total).Reverse().Skip(state.Page * state.PageSize).Take(state.PageSize).Select(i => new Item(i, $"item {i}")).ToList();
        return Task.FromResult(new GridData<Item> { Items = rows, TotalItems = total });
    };

    private static string[] FirstColumn(IRenderedComponent<KeyedTable<Item>> cut) =>
        cut.FindAll("tbody tr.mud-table-row td:first-child").Select(td => td.TextContent).ToArray();

    [Fact]
    public void Table_DrawsTheColumnsTitles_AndARowPerItem_WithItsCells()
    {
        var cut = RenderTable(Pages(3));

        cut.WaitForAssertion(() => Assert.Equal(["3", "2", "1"], FirstColumn(cut)));
        Assert.Equal(["Id", "Name"], cut.FindAll("thead th").Select(th => th.TextContent.Trim()).ToArray());
        Assert.Contains("name-cell", cut.FindAll("thead th")[1].ClassName);
        Assert.Equal("1-3 of 3", cut.Find(".page-info").TextContent.Trim());
    }

    [Fact]
    public void Pager_MovesThroughThePages_AndAnotherPageSizeStartsFromTheFirst()
    {
        var asked = new List<(int Page, int Size)>();
        var cut = RenderTable(Pages(60, asked));
        cut.WaitForAssertion(() => Assert.Equal(25, FirstColumn(cut).Length));

        cut.Find("button[aria-label='Next page']").Click();
        cut.WaitForAssertion(() => Assert.Equal("35", FirstColumn(cut)[0]));
        Assert.Equal("26-50 of 60", cut.Find(".page-info").TextContent.Trim());

        cut.Find("button[aria-label='Last page']").Click();
        cut.WaitForAssertion(() => Assert.Equal(["10", "9", "8", "7", "6", "5", "4", "3", "2", "1"], FirstColumn(cut)));
        Assert.True(cut.Find("button[aria-label='Next page']").HasAttribute("disabled"));

        cut.Find("button[aria-label='First page']").Click();
        cut.WaitForAssertion(() => Assert.Equal("60", FirstColumn(cut)[0]));
        Assert.Equal([(0, 25), (1, 25), (2, 25), (0, 25)], asked);
    }

    [Fact]
    public void BeforeItsFirstLoad_SaysItLoads_AndOnceLoaded_SaysWhenThereIsNothing()
    {
        var rows = new TaskCompletionSource<GridData<Item>>();
        var cut = RenderTable((_, _) => rows.Task, empty: "No item matches.");
        Assert.Contains("Loading…", cut.Find("tbody").TextContent);

        rows.SetResult(new GridData<Item> { Items = [], TotalItems = 0 });

        cut.WaitForAssertion(() => Assert.Contains("No item matches.", cut.Find("tbody").TextContent));
    }

    /// <summary>A failed read is said in the table — thrown from a render callback it would end the user's circuit.</summary>
    [Fact]
    public void AReadThatFails_IsSaidInTheTable_AndTheRowsItShowedStay()
    {
        var fail = false;
        var cut = RenderTable((state, ct) => fail ? throw new InvalidOperationException("the database is away") : Pages(2)(state, ct));
        cut.WaitForAssertion(() => Assert.Equal(2, FirstColumn(cut).Length));

        fail = true;
        cut.InvokeAsync(() => cut.Instance.ReloadQuietlyAsync());

        cut.WaitForAssertion(() => Assert.Contains("Could not load the rows: the database is away", cut.Find("[role=alert]").TextContent));
        Assert.Equal(["2", "1"], FirstColumn(cut));

        fail = false;
        cut.InvokeAsync(() => cut.Instance.ReloadQuietlyAsync());
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[role=alert]")));
    }

    /// <summary>A page renders for its own reasons; the table draws its rows again only when what it draws from changed.</summary>
    [Fact]
    public void APageRenderingForItsOwnReasons_DoesNotDrawTheRowsAgain_UnlessWhatTheyDrawFromChanged()
    {
        var cut = RenderTable(Pages(2));
        cut.WaitForAssertion(() => Assert.Equal(2, FirstColumn(cut).Length));
        var renders = cut.Instance.OwnRenders;

        cut.Render(p => p.Add(t => t.RowTemplate, Cells));
        Assert.Equal(renders, cut.Instance.OwnRenders);

        cut.Render(p => p.Add(t => t.TemplateState, true));
        Assert.Equal(renders + 1, cut.Instance.OwnRenders);
    }
}
