namespace Taskdeck.Core.Schedules;

/// <summary><c>Taskdeck:Scheduling</c>: how the firing loop behaves (the schedules themselves are data).</summary>
public sealed class SchedulingOptions
{
    /// <summary>Whether this node fires schedules. Every node may: the firing row makes each slot fire once.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Catch-up <c>All</c> starts at most this many of the missed slots (the most recent ones).</summary>
    public int CatchUpCap { get; set; } = 50;
    /// <summary>A slot fired less than this late is on time; later, it was missed and the catch-up policy decides.</summary>
    public int MisfireGraceSeconds { get; set; } = 15;
    /// <summary>How often the loop asks the database whether another node changed a schedule.</summary>
    public int ChangePollMilliseconds { get; set; } = 1000;
}
