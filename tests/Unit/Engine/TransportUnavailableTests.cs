using Hangfire;
using Hangfire.Storage;
using Npgsql;
using Taskdeck.Console.Hosting;
using Taskdeck.Core;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// The Hangfire transport tells a job store or database that could not be reached (a warning: the records wait for the
/// reconciler) from a defect (an error that surfaces). What Hangfire's client throws is the storage's exception wrapped in
/// its own; a storage's own lock failure is named where the storage is chosen (the Console's HangfireSetup), not in Core.
/// </summary>
public sealed class TransportUnavailableTests
{
    public static TheoryData<StorageProvider, Exception> Unavailable() => new()
    {
        { StorageProvider.PostgreSql, new BackgroundJobClientException("Background job creation failed.", new NpgsqlException("Exception while reading from stream", new IOException("EOF"))) },
        { StorageProvider.Sqlite, new BackgroundJobClientException("Background job creation failed.", new DistributedLockTimeoutException("lock:queue")) },
        { StorageProvider.PostgreSql, new BackgroundJobClientException("Background job creation failed.", new Hangfire.PostgreSql.PostgreSqlDistributedLockException("Could not place a lock")) },
        { StorageProvider.SqlServer, new Hangfire.SqlServer.SqlServerDistributedLockException("Could not place a lock") },
        { StorageProvider.PostgreSql, new AggregateException(new NpgsqlException("57P01: terminating connection due to administrator command")) },
        { StorageProvider.Sqlite, new TimeoutException("The operation has timed out.") },
        { StorageProvider.SqlServer, new System.Net.Sockets.SocketException(111) },
    };

    public static TheoryData<StorageProvider, Exception> Defects() => new()
    {
        { StorageProvider.PostgreSql, new NullReferenceException() },
        { StorageProvider.PostgreSql, new BackgroundJobClientException("Background job creation failed.", new InvalidOperationException("a filter's bug")) },
        { StorageProvider.SqlServer, new ArgumentOutOfRangeException("priority") },
        { StorageProvider.Sqlite, new AggregateException(new KeyNotFoundException()) },
        // Another storage's lock failure is nothing the chosen storage throws: it means what any unknown exception does.
        { StorageProvider.PostgreSql, new Hangfire.SqlServer.SqlServerDistributedLockException("Could not place a lock") },
    };

    [Theory]
    [MemberData(nameof(Unavailable))]
    public void ADatabaseOrConnectionFailure_IsUnavailable(StorageProvider storage, Exception failure) =>
        Assert.True(HangfireSetup.StorageFailures(storage).IsUnavailable(failure), failure.ToString());

    [Theory]
    [MemberData(nameof(Defects))]
    public void AProgrammingError_IsNotUnavailable(StorageProvider storage, Exception failure) =>
        Assert.False(HangfireSetup.StorageFailures(storage).IsUnavailable(failure), failure.ToString());
}
