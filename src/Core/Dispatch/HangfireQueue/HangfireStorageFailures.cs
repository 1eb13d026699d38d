using System.Data.Common;
using System.Net.Sockets;

namespace Taskdeck.Core.Dispatch.HangfireQueue;

/// <summary>
/// Whether a failure says the job store or the database under it could not be reached (the question
/// <see cref="IExecutionTransport.IsUnavailable"/> asks): what every storage throws — the database's or the connection's
/// failure (<see cref="DbException"/>, <see cref="TimeoutException"/>, <see cref="IOException"/>, <see cref="SocketException"/>;
/// Hangfire's own DistributedLockTimeoutException is a timeout) — and the chosen storage's own "lock not obtained"
/// exceptions, which the host that picks the storage names (the Console: Core references no storage package). Thrown as
/// it is or wrapped: Hangfire's client wraps whatever its storage threw in a BackgroundJobClientException.
/// </summary>
public sealed class HangfireStorageFailures(IEnumerable<Type> lockFailures)
{
    /// <summary>A storage with no exceptions of its own (Hangfire.InMemory).</summary>
    public static readonly HangfireStorageFailures None = new([]);

    private readonly Type[] _lockFailures = lockFailures.ToArray();

    public bool IsUnavailable(Exception failure)
    {
        if (failure is DbException or TimeoutException or IOException or SocketException) return true;
        if (_lockFailures.Any(type => type.IsInstanceOfType(failure))) return true;
        if (failure is AggregateException many) return many.InnerExceptions.Any(IsUnavailable);
        return failure.InnerException is { } inner && IsUnavailable(inner);
    }
}
