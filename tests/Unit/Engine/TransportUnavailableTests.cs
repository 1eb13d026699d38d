using Hangfire;
using Hangfire.Storage;
using Npgsql;
using Taskdeck.Core.Dispatch.HangfireQueue;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// The Hangfire transport tells a job store or database that could not be reached (a warning: the records wait for the
/// reconciler) from a defect (an error that surfaces). What Hangfire's client throws is the storage's exception wrapped in its own.
/// </summary>
public sealed class TransportUnavailableTests
{
    public static TheoryData<Exception> Unavailable() => new()
    {
        new BackgroundJobClientException("Background job creation failed.", new NpgsqlException("Exception while reading from stream", new IOException("EOF"))),
        new BackgroundJobClientException("Background job creation failed.", new DistributedLockTimeoutException("lock:queue")),
        new BackgroundJobClientException("Background job creation failed.", new Hangfire.PostgreSql.PostgreSqlDistributedLockException("Could not place a lock")),
        new Hangfire.SqlServer.SqlServerDistributedLockException("Could not place a lock"),
        new AggregateException(new NpgsqlException("57P01: terminating connection due to administrator command")),
        new TimeoutException("The operation has timed out."),
        new System.Net.Sockets.SocketException(111),
    };

    public static TheoryData<Exception> Defects() => new()
    {
        new NullReferenceException(),
        new BackgroundJobClientException("Background job creation failed.", new InvalidOperationException("a filter's bug")),
        new ArgumentOutOfRangeException("priority"),
        new AggregateException(new KeyNotFoundException()),
    };

    [Theory]
    [MemberData(nameof(Unavailable))]
    public void ADatabaseOrConnectionFailure_IsUnavailable(Exception failure) =>
        Assert.True(HangfireTransport.IsStorageUnavailable(failure), failure.ToString());

    [Theory]
    [MemberData(nameof(Defects))]
    public void AProgrammingError_IsNotUnavailable(Exception failure) =>
        Assert.False(HangfireTransport.IsStorageUnavailable(failure), failure.ToString());
}
