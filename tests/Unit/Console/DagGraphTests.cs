using Bunit;
using Taskdeck.Console.Components.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;

namespace Taskdeck.Unit.Console;

public sealed class DagGraphTests : MudTestContext
{
    // a → b, a → c, b → d, c → d
    private static readonly (long, long)[] Diamond = [(1, 2), (1, 3), (2, 4), (3, 4)];

    [Fact]
    public void Layout_OfADiamond_PutsItInThreeLayers_LeftToRight()
    {
        var layout = DagLayout.Compute([1, 2, 3, 4], Diamond);

        Assert.Equal(3, layout.Layers);
        Assert.Equal(0, layout.Nodes[1].Layer);
        Assert.Equal(1, layout.Nodes[2].Layer);
        Assert.Equal(1, layout.Nodes[3].Layer);
        Assert.Equal(2, layout.Nodes[4].Layer);
        Assert.True(layout.Nodes[1].X < layout.Nodes[2].X && layout.Nodes[2].X < layout.Nodes[4].X);
        Assert.NotEqual(layout.Nodes[2].Y, layout.Nodes[3].Y);
        Assert.Equal(4, layout.Edges.Count);
    }

    [Fact]
    public void Layout_UsesTheLongestPath_ForANodeWithParentsAtDifferentDepths()
    {
        // a → b → c and a → c: c sits right of b, not beside it.
        var layout = DagLayout.Compute([1, 2, 3], [(1, 2), (2, 3), (1, 3)]);
        Assert.Equal(2, layout.Nodes[3].Layer);
    }

    [Fact]
    public void Graph_OfADiamond_DrawsFourNodes_ColouredByState_AndFourEdges()
    {
        IReadOnlyList<DagTaskNode> tasks =
        [
            new(1, "extract", ExecutionState.Succeeded, 1, null, null),
            new(2, "left", ExecutionState.Running, 1, null, null),
            new(3, "right", ExecutionState.Failed, 1, null, null),
            new(4, "load", ExecutionState.Pending, 0, null, null),
        ];
        var cut = Render<DagGraph>(p => p.Add(g => g.Tasks, tasks).Add(g => g.Edges, Diamond));

        var nodes = cut.FindAll("g.dag-node");
        Assert.Equal(4, nodes.Count);
        Assert.Equal(4, cut.FindAll("path.dag-edge").Count);
        Assert.Equal(new[] { "0", "1", "1", "2" }, nodes.Select(n => n.GetAttribute("data-layer") ?? "").ToArray());
        Assert.Equal("#2e9d5b", cut.Find("g.dag-node[data-task='extract'] rect").GetAttribute("fill"));
        Assert.Equal("/executions/3", cut.Find("g.dag-node[data-task='right']").ParentElement!.GetAttribute("href"));
    }

    [Fact]
    public void Layout_OfAThousandTaskChainOfFans_StaysLinearInShape()
    {
        var nodes = Enumerable.Range(1, 1000).Select(i => (long)i).ToList();
        var edges = nodes.Skip(1).Select(n => ((n - 2) / 10 * 10 + 1, n)).Where(e => e.Item1 != e.n).Select(e => ((long)e.Item1, e.n)).ToList();
        var layout = DagLayout.Compute(nodes, edges);
        Assert.Equal(1000, layout.Nodes.Count);
        Assert.All(edges, e => Assert.True(layout.Nodes[e.Item1].Layer < layout.Nodes[e.Item2].Layer));
    }

    [Fact]
    public void ABigRun_IsGroupedByTemplate_AFanIntoAJoinIsTwoNodes_ColouredByTheirMostTellingState()
    {
        // work_0 … work_9999 (expanded from one template) → join; a few instances still running, one failed.
        var tasks = Enumerable.Range(0, 10_000)
            .Select(i => new DagTaskNode(i + 1, $"work_{i}", i switch { 7 => ExecutionState.Failed, < 3 => ExecutionState.Running, _ => ExecutionState.Succeeded }, 1, null, null))
            .Append(new DagTaskNode(10_001, "join", ExecutionState.Pending, 0, null, null))
            .ToList();
        var edges = tasks.Take(10_000).Select(t => new Taskdeck.Core.Dags.DagEdge { ParentExecutionId = t.ExecutionId, ChildExecutionId = 10_001 }).ToList();

        var (nodes, grouped) = DagTaskGroups.Collapse(tasks, edges);

        Assert.Equal(["work [10000]", "join"], nodes.Select(n => n.Node.Name));
        var work = nodes[0];
        Assert.Equal((10_000, ExecutionState.Running), (work.Count, work.Node.State));
        Assert.Equal(1, work.States[ExecutionState.Failed]);
        Assert.Equal([(1L, 10_001L)], grouped);

        var cut = Render<DagGraph>(p => p.Add(g => g.Tasks, nodes.Select(n => n.Node).ToList()).Add(g => g.Edges, grouped)
            .Add(g => g.Groups, nodes.ToDictionary(n => n.Node.ExecutionId)).Add(g => g.GroupHref, "/executions?dag=5"));
        var group = cut.Find("g.dag-group");
        Assert.Equal("10000", group.GetAttribute("data-count"));
        Assert.Equal("/executions?dag=5", group.ParentElement!.GetAttribute("href"));
        Assert.Contains("9,996 succeeded, 3 running, 1 failed", group.QuerySelector("title")!.TextContent);
        Assert.Equal("/executions/10001", cut.Find("g.dag-node[data-task='join']").ParentElement!.GetAttribute("href"));
    }

    [Fact]
    public void Grouping_LeavesALoneNameEndingInDigits_AsItself()
    {
        var tasks = new List<DagTaskNode> { new(1, "step_1", ExecutionState.Succeeded, 1, null, null), new(2, "report", ExecutionState.Queued, 0, null, null) };

        var (nodes, _) = DagTaskGroups.Collapse(tasks, []);

        Assert.Equal(["step_1", "report"], nodes.Select(n => n.Node.Name));
        Assert.All(nodes, n => Assert.False(n.IsGroup));
    }
}
