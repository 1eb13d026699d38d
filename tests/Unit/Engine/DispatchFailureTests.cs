using Hangfire;
using Hangfire.Storage;
using Npgsql;
using Taskdeck.Core.Dispatch;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// A submission whose dispatch failed is accepted (its jobs made later) only when the job store or the database could
/// not be reached; a defect fails it. What Hangfire's client throws is the storage's exception wrapped in its own.
/// </summary>
public sealed class DispatchFailureTests
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
    public void ADatabaseOrConnectionFailure_IsUnavailable_SoTheSubmissionIsAccepted(Exception failure) =>
        Assert.True(DispatchFailure.IsUnavailable(failure), failure.ToString());

    [Theory]
    [MemberData(nameof(Defects))]
    public void AProgrammingError_IsNotUnavailable_SoTheSubmissionFails(Exception failure) =>
        Assert.False(DispatchFailure.IsUnavailable(failure), failure.ToString());
}
