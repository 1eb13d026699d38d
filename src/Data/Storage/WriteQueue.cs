using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Data.Storage;

/// <summary>
/// Group commit: every engine write goes through one queue, and a single writer runs what has gathered in one
/// transaction. On SQLite (one writer at a time anyway) this removes lock contention; everywhere it turns N commits
/// into one. A batch that throws is rolled back and its items re-run one by one, so one bad item fails only itself.
/// Callers' tasks complete only after their transaction committed.
/// </summary>
public sealed class WriteQueue : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private readonly Channel<WorkItem> _channel = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskdeckDatabase _database;
    private readonly WriteGate _gate;
    private readonly ILogger<WriteQueue> _logger;
    private readonly Task _loop;
    /// <summary>When the oldest item of the batch now being written was queued (0 while idle): see <see cref="Lag"/>.</summary>
    private long _inFlightSince;

    public WriteQueue(TaskdeckDatabase database, WriteGate gate, ILogger<WriteQueue> logger)
    {
        _database = database;
        _gate = gate;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>
    /// How long the oldest write not yet committed has waited: the item at the head of the queue, or the oldest of the batch
    /// being written. Zero when the queue is idle; it grows without bound when the writer is stuck.
    /// </summary>
    public TimeSpan Lag
    {
        get
        {
            var oldest = Volatile.Read(ref _inFlightSince);
            if (oldest == 0 && _channel.Reader.TryPeek(out var head)) oldest = head.QueuedAt;
            return oldest == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(oldest);
        }
    }

    public Task<T> RunAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct = default)
    {
        var item = new WorkItem<T>(work);
        if (!_channel.Writer.TryWrite(item)) throw new ObjectDisposedException(nameof(WriteQueue));
        return ct.CanBeCanceled ? item.Task.WaitAsync(ct) : item.Task;
    }

    private async Task RunAsync()
    {
        var batch = new List<WorkItem>(MaxBatch);
        DbConnection? connection = null;
        try
        {
            while (await _channel.Reader.WaitToReadAsync())
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _channel.Reader.TryRead(out var item)) batch.Add(item);
                if (batch.Count == 0) continue;
                Volatile.Write(ref _inFlightSince, batch[0].QueuedAt);
                try
                {
                    connection ??= await OpenAsync();
                    await RunBatchAsync(connection, _gate, batch);
                }
                catch (Exception e)
                {
                    _logger.LogWarning(e, "A write batch of {Count} failed; running its items one by one", batch.Count);
                    if (connection is not null) { await connection.DisposeAsync(); connection = null; }
                    foreach (var item in batch)
                    {
                        try
                        {
                            connection ??= await OpenAsync();
                            await RunBatchAsync(connection, _gate, [item]);
                        }
                        catch (Exception single)
                        {
                            item.Fail(single);
                            if (connection is not null) { await connection.DisposeAsync(); connection = null; }
                        }
                    }
                }
                Volatile.Write(ref _inFlightSince, 0);
            }
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync();
        }
    }

    private async Task<DbConnection> OpenAsync()
    {
        var connection = _database.CreateConnection();
        await connection.OpenAsync();
        await _database.PrepareWriterAsync(connection, CancellationToken.None);
        return connection;
    }

    private static async Task RunBatchAsync(DbConnection connection, WriteGate gate, IReadOnlyList<WorkItem> batch)
    {
        using var turn = await gate.EnterAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        foreach (var item in batch) await item.RunAsync(connection, transaction);
        await transaction.CommitAsync();
        foreach (var item in batch) item.Complete();
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _loop;
    }

    private abstract class WorkItem
    {
        public long QueuedAt { get; } = Stopwatch.GetTimestamp();
        public abstract Task RunAsync(DbConnection connection, DbTransaction transaction);
        public abstract void Complete();
        public abstract void Fail(Exception e);
    }

    private sealed class WorkItem<T>(Func<DbConnection, DbTransaction, Task<T>> work) : WorkItem
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        public Task<T> Task => _completion.Task;
        public override async Task RunAsync(DbConnection connection, DbTransaction transaction) => _result = await work(connection, transaction);
        public override void Complete() => _completion.TrySetResult(_result);
        public override void Fail(Exception e) => _completion.TrySetException(e);
    }
}
