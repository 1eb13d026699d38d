using System.Text.RegularExpressions;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Components.Dags;

/// <summary>One node of a grouped graph: a task, or every instance of an expanded template (as Airflow draws a mapped task).</summary>
public sealed record DagGroupNode(DagTaskNode Node, int Count, IReadOnlyDictionary<ExecutionState, int> States)
{
    public bool IsGroup => Count > 1;
}

/// <summary>
/// A graph of a big run, drawn by template: the instances <c>name_0 … name_N</c> that parameter expansion made of one
/// task become one node labelled <c>name [N+1]</c>, whose colour is the state that matters most among them (running,
/// then failed, then waiting, then done), with the edges between groups. A 100 × 100 fan-out into a join is two nodes.
/// </summary>
public static partial class DagTaskGroups
{
    // The most telling state of a group first: what is moving, then what went wrong, then what waits, then what ended.
    private static readonly ExecutionState[] Precedence =
    [
        ExecutionState.Running, ExecutionState.Cancelling, ExecutionState.Failed, ExecutionState.TimedOut, ExecutionState.Lost,
        ExecutionState.Expired, ExecutionState.Queued, ExecutionState.Scheduled, ExecutionState.Pending, ExecutionState.Cancelled,
        ExecutionState.Succeeded,
    ];

    [GeneratedRegex(@"^(?<template>.+)_\d+$")]
    private static partial Regex Instance();

    public static (IReadOnlyList<DagGroupNode> Nodes, IReadOnlyList<(long Parent, long Child)> Edges) Collapse(
        IReadOnlyList<DagTaskNode> tasks, IReadOnlyList<DagEdge> edges)
    {
        static string Template(string name) => Instance().Match(name) is { Success: true } m ? m.Groups["template"].Value : name;
        var byTemplate = tasks.GroupBy(t => Template(t.Name), StringComparer.Ordinal).ToList();
        var groupOf = new Dictionary<long, long>(tasks.Count);
        var nodes = new List<DagGroupNode>(byTemplate.Count);
        foreach (var members in byTemplate)
        {
            var list = members.ToList();
            // A name that merely ends in _digits, alone of its kind, stays itself.
            var first = list[0];
            var states = list.GroupBy(t => t.State).ToDictionary(g => g.Key, g => g.Count());
            var node = list.Count == 1 ? first : first with
            {
                Name = $"{members.Key} [{list.Count}]",
                State = Precedence.First(states.ContainsKey),
                AttemptCount = list.Sum(t => t.AttemptCount),
                StartedAt = list.Min(t => t.StartedAt),
                FinishedAt = states.Keys.All(s => s.IsTerminal()) ? list.Max(t => t.FinishedAt) : null,
            };
            foreach (var t in list) groupOf[t.ExecutionId] = first.ExecutionId;
            nodes.Add(new DagGroupNode(node, list.Count, states));
        }
        var grouped = edges
            .Where(e => groupOf.ContainsKey(e.ParentExecutionId) && groupOf.ContainsKey(e.ChildExecutionId))
            .Select(e => (groupOf[e.ParentExecutionId], groupOf[e.ChildExecutionId]))
            .Where(e => e.Item1 != e.Item2)
            .Distinct()
            .ToList();
        return (nodes, grouped);
    }
}
