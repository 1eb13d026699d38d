using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Data.Storage;

/// <summary>
/// Group commit: every engine write goes through a queue, and a writer runs what has gathered in one transaction. On
/// SQLite (one writer at a time anyway) there is one writer, which removes lock contention; everywhere it turns N commits
/// into one. A network database may be given several writers (<see cref="TaskdeckDatabase.Writers"/>: one by default on
/// PostgreSQL, where fuller commits measured faster; four on SQL Server), each with its own queue and connection: a write
/// keyed by an execution id always goes to that id's writer, so the writes of one execution are committed in the order
/// they were issued (an attempt's log lines before its closing transition) while other executions' commit in parallel.
/// Unkeyed writes go to the first writer, in order among themselves.
/// A write made of one statement (<see cref="RunStatementAsync{T}"/>) is sent together with the statements gathered next to
/// it in one round trip (a <see cref="DbBatch"/>, where the provider has one), and members of one
/// <see cref="StatementSet{TMember, T}"/> gathered there (a batch's claims, its closes) as one statement (so within one
/// commit the history rows of different executions need not follow the order their transitions were issued in; each
/// execution's own do). A batch that throws is rolled back and its items re-run one by one, so one bad item fails only
/// itself. Callers' tasks complete only after their transaction committed.
/// </summary>
/// <remarks>
/// A server database can drop every connection at once (a restart, a failover): a batch whose connection broke before
/// its commit was sent did not commit, so it is run again on a new connection until the server answers (for up to
/// <see cref="ReconnectPatience"/>) instead of failing every write in flight — a worker's closing transition among
/// them, which would leave its record Running with nobody to end it. A connection that broke during the commit leaves
/// the outcome unknown: those items fail as they are (running them again could apply an insert twice).
/// </remarks>
public sealed class WriteQueue : IAsyncDisposable
{
    private const int MaxBatch = 512;
    /// <summary>How long a write waits for the database to come back (a restart takes seconds) before it fails.</summary>
    private static readonly TimeSpan ReconnectPatience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(1);
    private readonly Writer[] _writers;

    /// <param name="wake">PostgreSQL: whether other nodes listen for this node's changes (null: always written as if they did).</param>
    public WriteQueue(TaskdeckDatabase database, WriteGate gate, ILogger<WriteQueue> logger, Changes.WakeOtherNodes? wake = null)
    {
        _writers = new Writer[Math.Max(1, database.Writers)];
        for (var i = 0; i < _writers.Length; i++) _writers[i] = new Writer(database, gate, logger, wake);
    }

    /// <summary>How many writers commit in parallel.</summary>
    public int Writers => _writers.Length;

    /// <summary>The writer a keyed write goes to: the same for every write of one execution.</summary>
    public int WriterOf(long key) => (int)((ulong)key % (ulong)_writers.Length);

    /// <summary>
    /// How long the oldest write not yet committed has waited, over all writers: the item at the head of a queue, or the
    /// oldest of a batch being written. Zero when idle; it grows without bound when a writer is stuck.
    /// </summary>
    public TimeSpan Lag
    {
        get
        {
            var lag = TimeSpan.Zero;
            foreach (var writer in _writers) if (writer.Lag > lag) lag = writer.Lag;
            return lag;
        }
    }

    /// <summary>Unkeyed: runs on the first writer, after every write issued to it before.</summary>
    public Task<T> RunAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct = default) =>
        Enqueue(0, new WorkItem<T>(work), ct);

    /// <summary>On <paramref name="key"/>'s writer, after every write issued with the same key before.</summary>
    public Task<T> RunAsync<T>(long key, Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct = default) =>
        Enqueue(WriterOf(key), new WorkItem<T>(work), ct);

    /// <summary>
    /// One statement that must answer exactly one result set (end it in a SELECT or RETURNING), sent with its neighbours
    /// in the queue in one round trip; <paramref name="read"/> reads that result set. On <paramref name="key"/>'s writer
    /// (null: the first).
    /// </summary>
    public Task<T> RunStatementAsync<T>(long? key, string text, (string Name, object? Value)[] parameters, Func<DbDataReader, Task<T>> read,
        CancellationToken ct = default) =>
        Enqueue(key is { } k ? WriterOf(k) : 0, new StatementItem<T>(text, parameters, read), ct);

    /// <summary>
    /// One member of a <see cref="StatementSet{TMember, T}"/> on <paramref name="key"/>'s writer: sent in one statement with
    /// the same set's members of other keys gathered in the same batch, or alone.
    /// </summary>
    public Task<T> RunInSetAsync<TMember, T>(long key, StatementSet<TMember, T> set, TMember member, CancellationToken ct = default)
    {
        var item = new SetItem<TMember, T>(key, set, member, this);
        _writers[WriterOf(key)].Enqueue(item);
        return ct.CanBeCanceled ? item.Task.WaitAsync(ct) : item.Task;
    }

    /// <summary>
    /// Members of one key that must share one commit: queued as one entry, so the writer takes them into the same batch, in
    /// order (each still its own member with its own result; on a failed batch each is run again on its own, as any item).
    /// </summary>
    public Task<T>[] RunInSetTogether<TMember, T>(long key, IReadOnlyList<(StatementSet<TMember, T> Set, TMember Member)> members, CancellationToken ct = default) =>
        EnqueueTogether(WriterOf(key), members.Select(m => new SetItem<TMember, T>(key, m.Set, m.Member, this)).ToArray(), item => item.Task, ct);

    /// <summary>How many set members have been committed from a statement shared with others (not alone) since the start.</summary>
    public long MembersSentTogether => Interlocked.Read(ref _membersSentTogether);
    private long _membersSentTogether;

    /// <summary>As <see cref="RunInSetTogether{TMember, T}"/>, for writes that are code run on the writer's transaction.</summary>
    public Task<T>[] RunTogether<T>(long key, IReadOnlyList<Func<DbConnection, DbTransaction, Task<T>>> works, CancellationToken ct = default) =>
        EnqueueTogether(WriterOf(key), works.Select(w => new WorkItem<T>(w)).ToArray(), item => item.Task, ct);

    private Task<T>[] EnqueueTogether<TItem, T>(int writer, TItem[] items, Func<TItem, Task<T>> task, CancellationToken ct) where TItem : WorkItem
    {
        _writers[writer].Enqueue(new Together(items));
        return items.Select(item => ct.CanBeCanceled ? task(item).WaitAsync(ct) : task(item)).ToArray();
    }

    private Task<T> Enqueue<T>(int writer, WorkItem<T> item, CancellationToken ct)
    {
        _writers[writer].Enqueue(item);
        return ct.CanBeCanceled ? item.Task.WaitAsync(ct) : item.Task;
    }

    private Task<T> Enqueue<T>(int writer, StatementItem<T> item, CancellationToken ct)
    {
        _writers[writer].Enqueue(item);
        return ct.CanBeCanceled ? item.Task.WaitAsync(ct) : item.Task;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var writer in _writers) await writer.DisposeAsync();
    }

    private sealed class Writer : IAsyncDisposable
    {
        private readonly Channel<WorkItem> _channel = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
        private readonly TaskdeckDatabase _database;
        private readonly WriteGate _gate;
        private readonly ILogger _logger;
        private readonly Changes.WakeOtherNodes? _wake;
        /// <summary>Whether the connection held was opened as a lone node's (its commits notify nobody).</summary>
        private bool _connectionAlone;
        private readonly Task _loop;
        /// <summary>When the oldest item of the batch now being written was queued (0 while idle): see <see cref="Lag"/>.</summary>
        private long _inFlightSince;

        public Writer(TaskdeckDatabase database, WriteGate gate, ILogger logger, Changes.WakeOtherNodes? wake)
        {
            _database = database;
            _gate = gate;
            _logger = logger;
            _wake = wake;
            _loop = Task.Run(RunAsync);
        }

        public TimeSpan Lag
        {
            get
            {
                var oldest = Volatile.Read(ref _inFlightSince);
                if (oldest == 0 && _channel.Reader.TryPeek(out var head)) oldest = head.QueuedAt;
                return oldest == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(oldest);
            }
        }

        public void Enqueue(WorkItem item)
        {
            if (!_channel.Writer.TryWrite(item)) throw new ObjectDisposedException(nameof(WriteQueue));
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
                    while (batch.Count < MaxBatch && _channel.Reader.TryRead(out var item))
                    {
                        if (item is Together together) batch.AddRange(together.Items);
                        else batch.Add(item);
                    }
                    if (batch.Count == 0) continue;
                    Volatile.Write(ref _inFlightSince, batch[0].QueuedAt);
                    // Another node came or the last one left: this batch goes through the other pool's connection.
                    if (connection is not null && Alone != _connectionAlone)
                    {
                        await connection.DisposeAsync();
                        connection = null;
                    }
                    var brokenSince = (long?)null;
                    var delay = TimeSpan.FromMilliseconds(50);
                    while (true)
                    {
                        try
                        {
                            connection ??= await OpenAsync();
                            await RunBatchAsync(connection, _gate, batch);
                            break;
                        }
                        catch (CommitOutcomeUnknownException e)
                        {
                            _logger.LogWarning(e.InnerException, "The connection broke while a write batch of {Count} committed: its outcome is unknown, its items fail", batch.Count);
                            await DropAsync(connection);
                            connection = null;
                            foreach (var item in batch) item.Fail(e);
                            break;
                        }
                        catch (Exception e) when (IsBroken(e, connection) && Stopwatch.GetElapsedTime(brokenSince ??= Stopwatch.GetTimestamp()) < ReconnectPatience)
                        {
                            // Not committed (the connection broke before the commit was sent): the same batch again on a new one.
                            if (delay.TotalMilliseconds <= 50) _logger.LogWarning(e, "The database connection broke; the write batch of {Count} waits for it to come back", batch.Count);
                            await DropAsync(connection);
                            connection = null;
                            await Task.Delay(delay);
                            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxReconnectDelay.Ticks));
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
                            break;
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

        private bool Alone => _wake is { Needed: false };

        private async Task<DbConnection> OpenAsync()
        {
            var alone = Alone;
            var connection = _database.CreateWriterConnection(alone);
            _connectionAlone = alone;
            try
            {
                await connection.OpenAsync();
                await _database.PrepareWriterAsync(connection, CancellationToken.None);
                return connection;
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        /// <summary>
        /// A broken connection is discarded, and the pools' idle ones with it: after a server restart every pooled
        /// connection is dead, and each would otherwise fail one more write (or read) before the pool ran dry of them.
        /// </summary>
        private async Task DropAsync(DbConnection? connection)
        {
            if (connection is not null) await connection.DisposeAsync();
            _database.ClearPool();
        }

        public async ValueTask DisposeAsync()
        {
            _channel.Writer.TryComplete();
            await _loop;
        }
    }

    private static async Task RunBatchAsync(DbConnection connection, WriteGate gate, IReadOnlyList<WorkItem> batch)
    {
        using var turn = await gate.EnterAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        for (var i = 0; i < batch.Count;)
        {
            if (batch[i] is not StatementItem)
            {
                await batch[i].RunAsync(connection, transaction);
                i++;
                continue;
            }
            var end = i + 1;
            while (end < batch.Count && batch[end] is StatementItem) end++;
            await RunStatementsAsync(connection, transaction, batch, i, end);
            i = end;
        }
        try
        {
            await transaction.CommitAsync();
        }
        catch (Exception e) when (connection.State != ConnectionState.Open)
        {
            throw new CommitOutcomeUnknownException(e);
        }
        foreach (var item in batch) item.Complete();
    }

    /// <summary>
    /// The connection itself failed (it is no longer open, or it could not be opened for a reason the provider calls
    /// transient, as a restarting server's refusals are), not a statement on it.
    /// </summary>
    private static bool IsBroken(Exception e, DbConnection? connection)
    {
        if (connection is not null) return connection.State != ConnectionState.Open;
        return StorageFailure.IsUnreachable(e);
    }

    /// <summary>
    /// Items [start, end), all statements: one round trip where the provider batches, else one command each. Members of a
    /// <see cref="StatementSet{TMember, T}"/> are merged first: each member goes to the layer after its key's previous
    /// member in this run (so one execution's claim and close stay two statements, in order), and a layer's members of one
    /// set become one statement. A statement that is not a set member ends the run of merging before it, so it stays
    /// after everything issued before it and before everything issued after it. Members of an order-free set (log lines:
    /// between every two closes of a batch) take no layer: all of the run's become one statement, whatever their keys.
    /// </summary>
    private static async Task RunStatementsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<WorkItem> batch, int start, int end)
    {
        if (end - start == 1 || !connection.CanCreateBatch)
        {
            for (var i = start; i < end; i++) await batch[i].RunAsync(connection, transaction);
            return;
        }
        await using var statements = connection.CreateBatch();
        statements.Transaction = transaction;
        var reads = new List<Func<DbDataReader, Task>>(end - start);
        var layers = new SetLayers();
        for (var i = start; i < end; i++)
        {
            if (batch[i] is SetItem member)
            {
                layers.Add(member);
                continue;
            }
            var item = (StatementItem)batch[i];
            layers.SendTo(statements, reads);
            statements.BatchCommands.Add(item.Command(statements));
            reads.Add(item.ReadAsync);
        }
        layers.SendTo(statements, reads);
        await using var reader = await statements.ExecuteReaderAsync();
        for (var i = 0; i < reads.Count; i++)
        {
            if (i > 0 && !await reader.NextResultAsync())
                throw new InvalidOperationException($"A batched write answered {i} result sets for {reads.Count} statements.");
            await reads[i](reader);
        }
    }

    /// <summary>Set members gathered in a run of statements, grouped by layer and set until they are sent.</summary>
    private sealed class SetLayers
    {
        private readonly Dictionary<long, int> _membersOfKey = new();
        private readonly Dictionary<(int Layer, object Set), List<SetItem>> _groups = new();
        private readonly List<(int Layer, object Set)> _order = new();

        public void Add(SetItem member)
        {
            // Order-free members all share layer -1: sent first, one statement per set, taking no key's turn.
            var layer = -1;
            if (!member.OrderFree)
            {
                layer = _membersOfKey.GetValueOrDefault(member.Key);
                _membersOfKey[member.Key] = layer + 1;
            }
            var group = (layer, member.Set);
            if (!_groups.TryGetValue(group, out var members))
            {
                _groups[group] = members = [];
                _order.Add(group);
            }
            members.Add(member);
        }

        /// <summary>Adds the gathered groups, layer by layer, to the batch (and their readers to <paramref name="reads"/>), and starts over.</summary>
        public void SendTo(DbBatch statements, List<Func<DbDataReader, Task>> reads)
        {
            if (_order.Count == 0) return;
            foreach (var group in _order.OrderBy(g => g.Layer)) // a stable sort: within a layer, sets in the order they came
            {
                var members = _groups[group];
                if (members.Count == 1)
                {
                    statements.BatchCommands.Add(members[0].Command(statements));
                    reads.Add(members[0].ReadAsync);
                }
                else
                {
                    statements.BatchCommands.Add(members[0].CommandTogether(statements, members));
                    reads.Add(reader => members[0].ReadTogetherAsync(reader, members));
                }
            }
            _membersOfKey.Clear();
            _groups.Clear();
            _order.Clear();
        }
    }

    private abstract class WorkItem
    {
        public long QueuedAt { get; } = Stopwatch.GetTimestamp();
        public abstract Task RunAsync(DbConnection connection, DbTransaction transaction);
        public abstract void Complete();
        public abstract void Fail(Exception e);
    }

    private class WorkItem<T>(Func<DbConnection, DbTransaction, Task<T>> work) : WorkItem
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        protected T Result = default!;
        public Task<T> Task => _completion.Task;
        public override async Task RunAsync(DbConnection connection, DbTransaction transaction) => Result = await work(connection, transaction);
        public override void Complete() => _completion.TrySetResult(Result);
        public override void Fail(Exception e) => _completion.TrySetException(e);
    }

    /// <summary>Items queued as one entry, taken into one batch (never run as such).</summary>
    private sealed class Together(WorkItem[] items) : WorkItem
    {
        public WorkItem[] Items => items;
        public override Task RunAsync(DbConnection connection, DbTransaction transaction) => throw new InvalidOperationException("Taken apart into the batch.");
        public override void Complete() { }
        public override void Fail(Exception e) { foreach (var item in items) item.Fail(e); }
    }

    private abstract class StatementItem : WorkItem
    {
        public abstract DbBatchCommand Command(DbBatch batch);
        public abstract Task ReadAsync(DbDataReader reader);
    }

    private abstract class SetItem : StatementItem
    {
        public abstract long Key { get; }
        public abstract object Set { get; }
        /// <summary>See <see cref="StatementSet{TMember, T}.OrderFree"/>.</summary>
        public abstract bool OrderFree { get; }
        /// <summary>One statement for <paramref name="members"/>, all of this item's set (this one among them).</summary>
        public abstract DbBatchCommand CommandTogether(DbBatch batch, IReadOnlyList<SetItem> members);
        public abstract Task ReadTogetherAsync(DbDataReader reader, IReadOnlyList<SetItem> members);
    }

    private sealed class SetItem<TMember, T>(long key, StatementSet<TMember, T> set, TMember member, WriteQueue queue) : SetItem
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        public Task<T> Task => _completion.Task;
        public override long Key => key;
        public override object Set => set;
        public override bool OrderFree => set.OrderFree;

        private (string Text, (string Name, object? Value)[] Parameters, Func<DbDataReader, Task<T>> Read)? _alone;
        private (string Text, (string Name, object? Value)[] Parameters, Func<DbDataReader, Task<T>> Read) Alone => _alone ??= set.Alone(member);

        public override DbBatchCommand Command(DbBatch batch)
        {
            _sharedStatement = false;
            var (text, parameters, _) = Alone;
            var command = batch.CreateBatchCommand();
            command.CommandText = text;
            Sql.Bind(command.Parameters, command.CreateParameter, parameters);
            return command;
        }

        public override async Task ReadAsync(DbDataReader reader) => _result = await Alone.Read(reader);

        public override async Task RunAsync(DbConnection connection, DbTransaction transaction)
        {
            _sharedStatement = false;
            var (text, parameters, read) = Alone;
            await using var reader = await Sql.Reused(connection, transaction, text, parameters).ExecuteReaderAsync();
            _result = await read(reader);
        }

        public override DbBatchCommand CommandTogether(DbBatch batch, IReadOnlyList<SetItem> members)
        {
            var (text, parameters) = set.Together(members.Select(m => ((SetItem<TMember, T>)m).Member).ToList());
            var command = batch.CreateBatchCommand();
            command.CommandText = text;
            Sql.Bind(command.Parameters, command.CreateParameter, parameters);
            return command;
        }

        public override async Task ReadTogetherAsync(DbDataReader reader, IReadOnlyList<SetItem> members)
        {
            var answered = new bool[members.Count];
            while (await reader.ReadAsync())
            {
                var position = Convert.ToInt32(reader.GetValue(0)) - 1;
                if (position < 0 || position >= members.Count || answered[position])
                    throw new InvalidOperationException($"A set-based write answered position {position + 1} of {members.Count} unexpectedly.");
                var answering = (SetItem<TMember, T>)members[position];
                answering._result = set.ReadRow(reader, answering.Member);
                answering._sharedStatement = true;
                answered[position] = true;
            }
            if (Array.IndexOf(answered, false) is var missing and >= 0)
                throw new InvalidOperationException($"A set-based write answered nothing for position {missing + 1} of {members.Count}.");
        }

        private TMember Member => member;
        /// <summary>Whether the answer came from a statement shared with other members (false once it is sent alone again).</summary>
        private bool _sharedStatement;
        public override void Complete()
        {
            // Counted once committed: a batch run again (a reconnect, a failure rerun item by item) is not counted twice.
            if (_sharedStatement) Interlocked.Increment(ref queue._membersSentTogether);
            _completion.TrySetResult(_result);
        }
        public override void Fail(Exception e) => _completion.TrySetException(e);
    }

    private sealed class StatementItem<T>(string text, (string Name, object? Value)[] parameters, Func<DbDataReader, Task<T>> read) : StatementItem
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        public Task<T> Task => _completion.Task;

        public override DbBatchCommand Command(DbBatch batch)
        {
            var command = batch.CreateBatchCommand();
            command.CommandText = text;
            Sql.Bind(command.Parameters, command.CreateParameter, parameters);
            return command;
        }

        public override async Task ReadAsync(DbDataReader reader) => _result = await read(reader);

        /// <summary>Alone (a batch of one, or a provider without batches): the connection's kept command for this text.</summary>
        public override async Task RunAsync(DbConnection connection, DbTransaction transaction)
        {
            await using var reader = await Sql.Reused(connection, transaction, text, parameters).ExecuteReaderAsync();
            _result = await read(reader);
        }

        public override void Complete() => _completion.TrySetResult(_result);
        public override void Fail(Exception e) => _completion.TrySetException(e);
    }
}

/// <summary>
/// The connection broke while a write committed: it may or may not be stored. Not a failure to send again blindly —
/// a submission sent again could be stored twice — so it is told apart from a database that refused before the commit.
/// </summary>
public sealed class CommitOutcomeUnknownException(Exception inner) : Exception("The database connection broke while the change committed: it may or may not have been stored", inner);
