using System.Data.Common;
using System.Net.Sockets;

namespace Taskdeck.Core.Dispatch;

/// <summary>
/// Tells a dispatch that failed because the job store or the database could not be reached (a restart, a failover, a
/// broken connection: it will work again, and the records are durable meanwhile) from one that failed for a defect,
/// which must surface rather than wait in a backlog for ever.
/// </summary>
public static class DispatchFailure
{
    /// <summary>
    /// The job stores' own lock failures, named since Core references no storage: Hangfire.PostgreSql's and
    /// Hangfire.SqlServer's (Hangfire's own, DistributedLockTimeoutException, is a <see cref="TimeoutException"/>).
    /// </summary>
    private static readonly HashSet<string> StorageLockFailures =
        ["Hangfire.PostgreSql.PostgreSqlDistributedLockException", "Hangfire.SqlServer.SqlServerDistributedLockException"];

    /// <summary>
    /// True when <paramref name="failure"/>, or an exception it wraps (Hangfire's client wraps whatever its storage threw
    /// in a BackgroundJobClientException), is the database's or the connection's: a <see cref="DbException"/>, a
    /// <see cref="TimeoutException"/>, an <see cref="IOException"/> or <see cref="SocketException"/>, or a storage's lock failure.
    /// </summary>
    public static bool IsUnavailable(Exception failure)
    {
        if (failure is DbException or TimeoutException or IOException or SocketException) return true;
        if (failure.GetType().FullName is { } name && StorageLockFailures.Contains(name)) return true;
        if (failure is AggregateException many) return many.InnerExceptions.Any(IsUnavailable);
        return failure.InnerException is { } inner && IsUnavailable(inner);
    }
}
