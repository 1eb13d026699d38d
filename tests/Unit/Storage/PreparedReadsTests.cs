using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Storage;

/// <summary>
/// On PostgreSQL the hot path's reads (a record by id, a parent's children at every success) are prepared on the server
/// from their second use on a kept connection: planned at every call, the DAG scheduler's children read spent five
/// times as long planning as running (BENCHMARKS.md, session 24).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PreparedReadsTests(PostgresServer postgres)
{
    private const string PreparedOnThisConnection = "SELECT statement FROM pg_prepared_statements WHERE NOT from_sql";

    [Fact]
    public async Task ARecordRead_IsPreparedOnTheServer_OnceItHasBeenSentTwice()
    {
        await using var storage = await StorageHost.StartAsync(new Dictionary<string, string?>
        {
            ["Taskdeck:Storage:Provider"] = "PostgreSql",
            ["ConnectionStrings:Taskdeck"] = await postgres.CreateDatabaseAsync(),
        });
        var store = storage.Get<ExecutionStore>();
        var readers = storage.Get<KeptReaders>();
        var id = (await store.InsertAsync([(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)], DateTimeOffset.UtcNow, "test"))[0];

        // Nothing else reads here, so every read below goes through the one kept connection the first one opened.
        Assert.NotNull(await store.FindAsync(id));
        var afterOneRead = await readers.ReadAsync(PreparedOnThisConnection, [], r => r.GetString(0), CancellationToken.None);
        Assert.NotNull(await store.FindAsync(id));
        var afterTwoReads = await readers.ReadAsync(PreparedOnThisConnection, [], r => r.GetString(0), CancellationToken.None);

        static bool ReadsARecord(string statement) => statement.Contains("FROM \"Executions\"", StringComparison.Ordinal);
        Assert.DoesNotContain(afterOneRead, ReadsARecord);
        Assert.Contains(afterTwoReads, ReadsARecord);
    }
}
