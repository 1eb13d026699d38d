using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Taskdeck.Core;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Storage;

public sealed class WalCheckpointerTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("taskdeck-wal-").FullName;
    private TaskdeckDatabase _database = null!;
    private SqliteConnection _writer = null!;

    public async Task InitializeAsync()
    {
        _database = new TaskdeckDatabase(StorageProvider.Sqlite, $"Data Source={Path.Combine(_folder, "t.db")};Pooling=false");
        _writer = new SqliteConnection(_database.ConnectionString);
        await _writer.OpenAsync();
        await _database.PrepareWriterAsync(_writer, CancellationToken.None); // WAL, no automatic checkpoints: as the engine's writer
        await ExecuteAsync(_writer, "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)");
    }

    public async Task DisposeAsync()
    {
        await _writer.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task AWalPastItsBound_StartsOverAtTheNextCommit_EvenWhenAReaderHeldAnOlderSnapshotDuringTheCopy()
    {
        await CommitRowsAsync(100);
        // A reader on an older snapshot while more commits land: a passive copy cannot reach the WAL's end past its mark.
        await using var reader = new SqliteConnection(_database.ConnectionString);
        await reader.OpenAsync();
        await using var snapshot = reader.BeginTransaction(deferred: true); // a read transaction: BEGIN, not BEGIN IMMEDIATE
        await ExecuteAsync(reader, "SELECT count(*) FROM t", snapshot);
        await CommitRowsAsync(100);

        var checkpointer = new WalCheckpointer(_database, new WriteGate(_database), NullLogger<WalCheckpointer>.Instance)
        {
            RestartAfterFrames = 50, ReaderPatience = TimeSpan.FromSeconds(10),
        };
        // SQLite waits for the reader inside the call, on the calling thread.
        var checkpoint = Task.Run(() => checkpointer.CheckpointAsync(CancellationToken.None));
        await Task.Delay(200); // the reader finishes while the gated checkpoint waits for it
        await snapshot.CommitAsync();
        await checkpoint;

        await CommitRowsAsync(1);
        Assert.True(await WalFramesAsync() < 10, $"the WAL did not start over: {await WalFramesAsync()} frames after one more commit");
    }

    [Fact]
    public async Task AWalUnderItsBound_IsOnlyCopiedBack_WithoutHoldingTheWriters()
    {
        await CommitRowsAsync(20);
        var gate = new WriteGate(_database);
        var checkpointer = new WalCheckpointer(_database, gate, NullLogger<WalCheckpointer>.Instance) { RestartAfterFrames = 100_000 };
        using (await gate.EnterAsync())
        {
            // A writer holds the gate: the passive round must not wait for it.
            await checkpointer.CheckpointAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    private async Task CommitRowsAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await using var transaction = await _writer.BeginTransactionAsync();
            await ExecuteAsync(_writer, $"INSERT INTO t (body) VALUES ('{new string('x', 2000)}')", transaction);
            await transaction.CommitAsync();
        }
    }

    private async Task<long> WalFramesAsync()
    {
        await using var command = _writer.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return reader.GetInt64(1);
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
