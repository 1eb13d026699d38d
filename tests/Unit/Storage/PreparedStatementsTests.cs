using Npgsql;
using Taskdeck.Core;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Storage;

/// <summary>
/// On PostgreSQL every statement the node sends twice on a connection is prepared there, the hot path's reads (a record by
/// id, a parent's children at every success) among them: planned at every call, the DAG scheduler's children read spent
/// five times as long planning as running (BENCHMARKS.md, session 24).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PreparedStatementsTests(PostgresServer postgres)
{
    private const string PreparedOnThisConnection = "SELECT statement FROM pg_prepared_statements WHERE NOT from_sql";

    private async Task<StorageHost> StorageOnANewDatabaseAsync() => await StorageHost.StartAsync(await postgres.StorageSettingsAsync());

    [Fact]
    public async Task ARecordRead_IsPreparedOnTheServer_OnceItHasBeenSentTwice()
    {
        await using var storage = await StorageOnANewDatabaseAsync();
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

    // A batch job reads its records together; were the statement's text to follow the batch's size, every size would
    // take one of a connection's 64 prepared slots and push out the hot path's own statements.
    [Fact]
    public async Task ABatchsRecords_AreReadWithOneStatementText_WhateverTheBatchsSize()
    {
        await using var storage = await StorageOnANewDatabaseAsync();
        var store = storage.Get<ExecutionStore>();
        var ids = await store.InsertAsync(Enumerable.Repeat((new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued), 7).ToList(),
            DateTimeOffset.UtcNow, "test");

        foreach (var size in new[] { 2, 3, 5, 7, 2, 3, 5, 7 })
            Assert.Equal(ids.Take(size).Order(), (await store.FindManyAsync(ids.Take(size).ToList())).Select(e => e.Id).Order());

        var prepared = await storage.Get<KeptReaders>().ReadAsync(PreparedOnThisConnection, [], r => r.GetString(0), CancellationToken.None);
        Assert.Single(prepared, statement => statement.Contains("FROM \"Executions\"", StringComparison.Ordinal));
    }

    [Fact]
    public void TheNodesConnections_PrepareWhatTheySendTwice_UnlessTheOperatorSaidOtherwise()
    {
        static NpgsqlConnectionStringBuilder Used(string written) =>
            new(new TaskdeckDatabase(StorageProvider.PostgreSql, written).PreparingConnectionString);

        Assert.Equal((64, 2), (Used("Host=db;Database=taskdeck").MaxAutoPrepare, Used("Host=db;Database=taskdeck").AutoPrepareMinUsages));
        // Behind a PgBouncer in transaction mode (before 1.21) prepared statements break: the operator turns them off.
        Assert.Equal(0, Used("Host=db;Database=taskdeck;Max Auto Prepare=0").MaxAutoPrepare);
        Assert.Equal((10, 5), (Used("Host=db;Database=taskdeck;maxautoprepare=10;Auto Prepare Min Usages=5").MaxAutoPrepare,
            Used("Host=db;Database=taskdeck;maxautoprepare=10;Auto Prepare Min Usages=5").AutoPrepareMinUsages));
        Assert.Equal("Data Source=x.db", new TaskdeckDatabase(StorageProvider.Sqlite, "Data Source=x.db").PreparingConnectionString);
    }

    // A writer reconnecting after a server restart must not wait behind Hangfire's workers and the readers for a pooled
    // connection: its connections are told apart by their application name, which gives them a pool of their own.
    [Fact]
    public void TheWriters_HaveAPoolOfTheirOwn_NamedInTheServersActivity()
    {
        static string? WriterName(string written) =>
            new NpgsqlConnectionStringBuilder(new TaskdeckDatabase(StorageProvider.PostgreSql, written).CreateWriterConnection().ConnectionString).ApplicationName;

        Assert.Equal("Taskdeck writer", WriterName("Host=db;Database=taskdeck"));
        Assert.Equal("billing-jobs writer", WriterName("Host=db;Database=taskdeck;Application Name=billing-jobs"));
        var database = new TaskdeckDatabase(StorageProvider.PostgreSql, "Host=db;Database=taskdeck");
        Assert.Equal(64, new NpgsqlConnectionStringBuilder(database.CreateWriterConnection().ConnectionString).MaxAutoPrepare);
        Assert.NotEqual(database.CreateConnection().ConnectionString, database.CreateWriterConnection().ConnectionString);
    }
}
