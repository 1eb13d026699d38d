using Microsoft.Extensions.Logging.Abstractions;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Limits;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// The attempt logs' batching writer: a write the database refuses loses no line (they go first in the next flush, in the
/// order they were appended), a store that wrote part of a batch gets only the rest again, and a NUL in a process's output
/// is stored as U+FFFD (PostgreSQL's text cannot hold one: a line holding it failed its whole batch, other executions' lines with it).
/// </summary>
public sealed class LogSinkTests
{
    /// <summary>A store that refuses the writes it is told to, and keeps what it took.</summary>
    private sealed class FlakyStore : IAttemptOutputStore
    {
        public readonly List<string> Written = [];
        public Queue<Func<IReadOnlyList<LogEntry>, Exception?>> Answers { get; } = new();

        public Task AppendLogAsync(IReadOnlyList<LogEntry> entries, CancellationToken ct = default)
        {
            var failure = Answers.Count > 0 ? Answers.Dequeue()(entries) : null;
            if (failure is LogLinesNotWrittenException partial)
                Written.AddRange(entries.Except(partial.Lines).Select(e => e.Text));
            else if (failure is null)
                Written.AddRange(entries.Select(e => e.Text));
            return failure is null ? Task.CompletedTask : Task.FromException(failure);
        }

        public Task SetProgressAsync(long id, double? progress, string? message, CancellationToken ct = default) => Task.CompletedTask;
    }

    private static LogSink SinkOver(FlakyStore store) => new(store, new ExecutionEvents(), TimeProvider.System, NullLogger<LogSink>.Instance);

    /// <summary>A store whose writes complete when the test says so.</summary>
    private sealed class SlowStore : IAttemptOutputStore
    {
        public readonly List<TaskCompletionSource> Writes = [];

        public Task AppendLogAsync(IReadOnlyList<LogEntry> entries, CancellationToken ct = default)
        {
            var write = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Writes.Add(write);
            return write.Task;
        }

        public Task SetProgressAsync(long id, double? progress, string? message, CancellationToken ct = default) => Task.CompletedTask;
    }

    // The runner flushes an attempt's lines before a validator reads them back (a generator's output); the timer's flush
    // may have taken them a moment before. The runner's flush, finding nothing left to issue, still waits for that write —
    // it answered at once, and the generator's output was read as empty and rejected.
    [Fact]
    public async Task AFlushWithNothingLeftToIssue_StillWaitsForTheWriteAFlushBeforeItTook()
    {
        var store = new SlowStore();
        var sink = new LogSink(store, new ExecutionEvents(), TimeProvider.System, NullLogger<LogSink>.Instance);
        sink.Append(1, 1, LogStream.Output, "{\"x\": {}}");

        var timersFlush = sink.FlushAsync();
        var runnersFlush = sink.FlushAsync();

        Assert.Single(store.Writes);
        Assert.False(runnersFlush.IsCompleted);
        store.Writes[0].SetResult();
        await runnersFlush;
        await timersFlush;
        Assert.True(sink.FlushAsync().IsCompletedSuccessfully);
    }

    [Fact]
    public async Task AWriteTheDatabaseRefused_IsWrittenByTheNextFlush_BeforeLaterLines()
    {
        var store = new FlakyStore();
        var sink = SinkOver(store);
        store.Answers.Enqueue(_ => new TimeoutException("the database is restarting"));

        sink.Append(1, 1, LogStream.Output, "one");
        sink.Append(2, 1, LogStream.Output, "two");
        await sink.FlushAsync(); // refused: completes all the same, the lines kept
        Assert.Empty(store.Written);
        Assert.Equal(2, sink.Unwritten);

        sink.Append(1, 1, LogStream.Output, "three");
        await sink.FlushAsync();

        Assert.Equal(["one", "two", "three"], store.Written);
        Assert.Equal(0, sink.Unwritten);
    }

    [Fact]
    public async Task TwoRefusedWrites_GoAgainInTheOrderTheyWereIssued()
    {
        var store = new FlakyStore();
        var sink = SinkOver(store);
        store.Answers.Enqueue(_ => new TimeoutException("down"));
        store.Answers.Enqueue(_ => new TimeoutException("still down"));

        sink.Append(1, 1, LogStream.Output, "a");
        await sink.FlushAsync();
        sink.Append(1, 1, LogStream.Output, "b");
        await sink.FlushAsync(); // a and b together, refused again
        sink.Append(1, 1, LogStream.Output, "c");
        await sink.FlushAsync();

        Assert.Equal(["a", "b", "c"], store.Written);
    }

    [Fact]
    public async Task AWriteThatCommittedPartOfItsLines_WritesOnlyTheRestAgain()
    {
        var store = new FlakyStore();
        var sink = SinkOver(store);
        // One writer's share committed, the other's (execution 2's lines) did not.
        store.Answers.Enqueue(lines => new LogLinesNotWrittenException(lines.Where(l => l.ExecutionId == 2).ToList(), new TimeoutException("writer 2")));

        sink.Append(1, 1, LogStream.Output, "1a");
        sink.Append(2, 1, LogStream.Output, "2a");
        sink.Append(1, 1, LogStream.Output, "1b");
        await sink.FlushAsync();
        await sink.FlushAsync();

        Assert.Equal(["1a", "1b", "2a"], store.Written);
    }

    [Fact]
    public async Task ANulInTheOutput_IsStoredAsTheReplacementCharacter()
    {
        var store = new FlakyStore();
        var sink = SinkOver(store);

        sink.Append(1, 1, LogStream.Output, "before\0after\n");
        await sink.FlushAsync();

        Assert.Equal($"before{TextRules.NulStoredAs}after\n", Assert.Single(store.Written));
    }
}
