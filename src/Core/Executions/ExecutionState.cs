namespace Taskdeck.Core.Executions;

/// <summary>The one canonical state set; each seed API maps it to its own vocabulary at its edge.</summary>
public enum ExecutionState
{
    /// <summary>Waits on DAG parents.</summary>
    Pending = 0,
    /// <summary>Due later: a delayed start or a retry back-off.</summary>
    Scheduled = 1,
    Queued = 2,
    Running = 3,
    Cancelling = 4,
    Succeeded = 5,
    Failed = 6,
    TimedOut = 7,
    Cancelled = 8,
    Lost = 9,
    /// <summary>Its queue deadline passed before it started.</summary>
    Expired = 10,
}

public static class ExecutionStates
{
    public static readonly IReadOnlyList<ExecutionState> All = Enum.GetValues<ExecutionState>();

    public static readonly IReadOnlyList<ExecutionState> Terminal =
        [ExecutionState.Succeeded, ExecutionState.Failed, ExecutionState.TimedOut, ExecutionState.Cancelled, ExecutionState.Lost, ExecutionState.Expired];

    public static readonly IReadOnlyList<ExecutionState> Waiting =
        [ExecutionState.Pending, ExecutionState.Scheduled, ExecutionState.Queued];

    public static readonly IReadOnlyList<ExecutionState> Active = [ExecutionState.Running, ExecutionState.Cancelling];

    /// <summary>On its way to run or running: work a DAG run is still waiting for (Pending waits on others, not in flight).</summary>
    public static readonly IReadOnlyList<ExecutionState> InFlight =
        [ExecutionState.Scheduled, ExecutionState.Queued, ExecutionState.Running, ExecutionState.Cancelling];

    /// <summary>Waiting or active: what a kill still has to stop.</summary>
    public static readonly IReadOnlyList<ExecutionState> NotEnded = [.. Waiting, .. Active];

    /// <summary>Terminal states an operator may send back to the queue.</summary>
    public static readonly IReadOnlyList<ExecutionState> Retryable =
        [ExecutionState.Failed, ExecutionState.TimedOut, ExecutionState.Cancelled, ExecutionState.Lost, ExecutionState.Expired];

    public static bool IsTerminal(this ExecutionState state) => state >= ExecutionState.Succeeded;
    public static bool IsWaiting(this ExecutionState state) => state <= ExecutionState.Queued;
    public static bool IsActive(this ExecutionState state) => state is ExecutionState.Running or ExecutionState.Cancelling;
    public static bool IsInFlight(this ExecutionState state) => state is >= ExecutionState.Scheduled and <= ExecutionState.Cancelling;
}
