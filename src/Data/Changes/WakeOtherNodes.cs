using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Workers;

namespace Taskdeck.Data.Changes;

/// <summary>
/// Whether this node's writes must wake other nodes' change followers (PostgreSQL). A node alone on the database wakes
/// nobody but its own listener, which ignores its own changes; yet every notifying commit takes the server's database-wide
/// notify-queue lock, so the writers' parallel commits queue behind one another for nothing. While no other node is live,
/// the <see cref="Storage.WriteQueue"/>'s writers connect under an application name the <c>StateChanges</c> trigger skips
/// (migration <c>StateChangesNotifyNotFromALoneNode</c>).
/// </summary>
/// <remarks>
/// Starts as needed (a node never assumes it is alone before it has looked). <see cref="LoneNodeWatch"/> decides from the
/// nodes' leases every <see cref="LoneNodeWatch.CheckInterval"/>; a starting node announces itself on the change channel
/// (<see cref="PostgreSqlChangeSignal"/>), and hearing that turns the wake-ups on at once, held for a lease's length so
/// that a lease row not yet read cannot turn them off again. What a writer commits in the moment before it switches back
/// reaches the newcomer by its follower's poll (<c>Taskdeck:Storage:ChangePollMilliseconds</c>), as a missed notify would.
/// </remarks>
public sealed class WakeOtherNodes(IOptions<TaskdeckOptions> options, TimeProvider time)
{
    private volatile bool _needed = true;
    private long _heldUntilTicks;

    public bool Needed => _needed;

    /// <summary>Another node announced itself: wake it from the next write on, whatever the leases said a moment ago.</summary>
    public void HeardFrom()
    {
        Interlocked.Exchange(ref _heldUntilTicks, time.GetUtcNow().AddSeconds(options.Value.Leases.ExpirySeconds).UtcTicks);
        _needed = true;
    }

    /// <summary>The leases were read: another node is live, or none. Returns whether wake-ups are needed now.</summary>
    public bool Decide(bool anotherNodeLive)
    {
        _needed = anotherNodeLive || time.GetUtcNow().UtcTicks < Interlocked.Read(ref _heldUntilTicks);
        return _needed;
    }
}

/// <summary>Reads the nodes' leases and tells <see cref="WakeOtherNodes"/> whether another node is live.</summary>
public sealed class LoneNodeWatch(WakeOtherNodes wake, INodeLeaseStore leases, NodeIdentity node, IOptions<TaskdeckOptions> options,
    TimeProvider time, ILogger<LoneNodeWatch> logger) : BackgroundService
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(CheckInterval, time);
        // What the log last said: a hello turns the notifies on between two checks, and is reported at the next one.
        var reported = true;
        try
        {
            do
            {
                bool now;
                try
                {
                    now = wake.Decide(await AnotherNodeLiveAsync(stoppingToken));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Unsure: wake the others, as a node that never looked would.
                    logger.LogDebug(e, "Reading the nodes' leases failed; this node's writes notify other nodes meanwhile");
                    now = wake.Decide(true);
                }
                if (now == reported) continue;
                reported = now;
                logger.LogInformation(now
                    ? "Another node is live on the database: this node's writes wake other nodes' change followers again"
                    : "No other node is live on the database: this node's writes stop notifying (nobody else listens)");
            } while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) { }
    }

    private async Task<bool> AnotherNodeLiveAsync(CancellationToken ct)
    {
        var cutoff = time.GetUtcNow().AddSeconds(-options.Value.Leases.ExpirySeconds);
        return (await leases.ListNodesAsync(ct)).Any(n => n.Id != node.Id && n.IsLiveSince(cutoff));
    }
}
