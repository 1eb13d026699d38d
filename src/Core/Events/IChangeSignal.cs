namespace Taskdeck.Core.Events;

/// <summary>
/// What the <see cref="ChangeFollower"/> waits on between passes: a wake-up when another node may have committed state
/// changes (PostgreSQL's LISTEN/NOTIFY), or its poll interval, whichever comes first. A wake-up only hurries the
/// next pass; a missed one delays a change until the poll, it never loses it (the pass reads the database).
/// </summary>
public interface IChangeSignal
{
    /// <summary>
    /// Completes when another node may have committed changes since the previous call returned, or after
    /// <paramref name="timeout"/>. Wake-ups that come while no one waits are kept as one, never queued up.
    /// </summary>
    Task WaitAsync(TimeSpan timeout, CancellationToken ct);
}

/// <summary>No wake-ups: the follower polls (SQLite, one node; SQL Server).</summary>
public sealed class PollingChangeSignal(TimeProvider time) : IChangeSignal
{
    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => Task.Delay(timeout, time, ct);
}
