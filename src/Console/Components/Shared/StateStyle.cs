using MudBlazor;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Shared;

/// <summary>One colour per state, shared by chips, charts, the DAG graph and the grid.</summary>
public static class StateStyle
{
    public static Color Color(ExecutionState state) => state switch
    {
        ExecutionState.Succeeded => MudBlazor.Color.Success,
        ExecutionState.Failed or ExecutionState.TimedOut or ExecutionState.Lost => MudBlazor.Color.Error,
        ExecutionState.Running => MudBlazor.Color.Info,
        ExecutionState.Cancelling or ExecutionState.Cancelled => MudBlazor.Color.Warning,
        ExecutionState.Queued => MudBlazor.Color.Primary,
        ExecutionState.Expired => MudBlazor.Color.Dark,
        _ => MudBlazor.Color.Default,
    };

    /// <summary>Hex colours for SVG and charts (they cannot use theme classes).</summary>
    public static string Hex(ExecutionState state) => state switch
    {
        ExecutionState.Succeeded => "#2e9d5b",
        ExecutionState.Failed => "#d64545",
        ExecutionState.TimedOut => "#b8336a",
        ExecutionState.Lost => "#8e3b3b",
        ExecutionState.Running => "#1e88e5",
        ExecutionState.Cancelling => "#f0a030",
        ExecutionState.Cancelled => "#c98a2e",
        ExecutionState.Queued => "#5c6bc0",
        ExecutionState.Scheduled => "#8d99ae",
        ExecutionState.Pending => "#b0b7c3",
        ExecutionState.Expired => "#5f6b7a",
        _ => "#9e9e9e",
    };

    public static string Label(ExecutionState state) => state switch
    {
        ExecutionState.TimedOut => "Timed out",
        _ => state.ToString(),
    };

    public static Color Color(DagRunState state) => state switch
    {
        DagRunState.Completed => MudBlazor.Color.Success,
        DagRunState.Errored => MudBlazor.Color.Error,
        DagRunState.Running => MudBlazor.Color.Info,
        DagRunState.Killed => MudBlazor.Color.Warning,
        _ => MudBlazor.Color.Primary,
    };

    /// <summary>The order bars and legends use: what needs attention first, then progress, then done.</summary>
    public static readonly IReadOnlyList<ExecutionState> DisplayOrder =
    [
        ExecutionState.Failed, ExecutionState.TimedOut, ExecutionState.Lost, ExecutionState.Expired, ExecutionState.Cancelled, ExecutionState.Cancelling,
        ExecutionState.Running, ExecutionState.Queued, ExecutionState.Scheduled, ExecutionState.Pending, ExecutionState.Succeeded,
    ];
}
