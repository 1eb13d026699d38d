using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Limits;

namespace Taskdeck.Core.Executors;

/// <summary>
/// Collects log chunks from every running attempt and writes them in batches (one transaction every ~200 ms),
/// so a chatty process costs the database a few writes a second, not one per line. Live viewers get each
/// chunk at once through <see cref="ExecutionEvents"/>.
/// </summary>
public sealed class LogSink(IAttemptOutputStore store, ExecutionEvents events, TimeProvider time, ILogger<LogSink> logger) : BackgroundService
{
    private readonly ConcurrentQueue<LogEntry> _pending = new();
    private readonly Lock _flushGate = new();
    /// <summary>Batches whose write failed, by the order they were issued in: written first, in that order, by the next flush.</summary>
    private readonly SortedDictionary<long, List<LogEntry>> _unwritten = [];
    private long _issued;
    /// <summary>
    /// Completes when every batch issued so far has settled (written, or kept for the next flush after a failure): what a
    /// flush with nothing left to issue returns, so that it too waits for the lines a flush before it took.
    /// </summary>
    private Task _issuedSettled = Task.CompletedTask;

    public void Append(long executionId, int attempt, LogStream stream, string text)
    {
        // As the store will keep it (a NUL as U+FFFD), so live viewers see the line a reload shows.
        text = TextRules.Storable(text);
        var entry = new LogEntry { ExecutionId = executionId, AttemptNumber = attempt, Stream = stream, At = time.GetUtcNow(), Text = text };
        _pending.Enqueue(entry);
        events.Publish(new LogAppended(executionId, entry.At, attempt, stream, text));
    }

    /// <summary>Lines appended and not yet written, those of failed writes included.</summary>
    public int Unwritten
    {
        get { lock (_flushGate) return _pending.Count + _unwritten.Values.Sum(b => b.Count); }
    }

    /// <summary>
    /// Issues the write of everything appended so far and returns its completion. The store applies the writes of one
    /// execution in the order they were issued, so a closing transition issued after this call is never committed before these lines:
    /// the runner need not wait for this write before it closes the attempt. A write that fails (the database unreachable)
    /// loses nothing: its lines are kept and go first in the next flush, and the task returned still completes normally.
    /// </summary>
    public Task FlushAsync(CancellationToken ct = default)
    {
        lock (_flushGate)
        {
            // Taken and issued under one lock, so two flushes cannot issue their batches out of order. A flush that finds
            // nothing left still waits for the batches issued before it: the timer's flush may have taken an attempt's last
            // lines a moment before the runner flushes to read them back (a generator's output read as empty failed it).
            if (_pending.IsEmpty && _unwritten.Count == 0) return _issuedSettled;
            var batch = _unwritten.Count == 0 ? new List<LogEntry>(_pending.Count) : [.. _unwritten.Values.SelectMany(b => b)];
            _unwritten.Clear();
            while (_pending.TryDequeue(out var entry)) batch.Add(entry);
            if (batch.Count == 0) return _issuedSettled;
            var number = ++_issued;
            Task write;
            try { write = store.AppendLogAsync(batch, ct); }
            catch (Exception e) { write = Task.FromException(e); }
            var settled = write.IsCompletedSuccessfully ? write : KeepIfFailedAsync(write, number, batch);
            _issuedSettled = _issuedSettled.IsCompleted ? settled : Task.WhenAll(_issuedSettled, settled);
            return _issuedSettled;
        }
    }

    private async Task KeepIfFailedAsync(Task write, long number, List<LogEntry> batch)
    {
        try
        {
            await write;
        }
        catch (Exception e)
        {
            // A store that wrote part of the batch (one writer's share) says which lines it did not write: only those go again.
            var left = e is LogLinesNotWrittenException partial ? [.. partial.Lines] : batch;
            lock (_flushGate) _unwritten[number] = left;
            if (e is not OperationCanceledException)
                logger.LogWarning(e, "Writing {Count} attempt log lines failed; they are kept and written with the next flush", left.Count);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await FlushAsync(stoppingToken);
        }
        catch (OperationCanceledException) { }
        await FlushAsync(CancellationToken.None);
        if (Unwritten is > 0 and var left) logger.LogError("Stopping with {Count} attempt log lines the database did not take", left);
    }
}

/// <summary>
/// One attempt's three logs. Each is bounded: past the limit a single truncation mark is written and the rest is
/// dropped, so a runaway process cannot fill the database.
/// </summary>
public sealed class AttemptLog(LogSink sink, long executionId, int attempt, int maxBytesPerStream)
{
    public const string TruncationMark = "\n[… log truncated by Taskdeck: limit reached …]\n";
    private readonly long[] _bytes = new long[3];
    private readonly bool[] _truncated = new bool[3];
    private readonly Lock _gate = new();

    public void Info(string line) => Write(LogStream.Output, line + "\n");
    public void Error(string line) => Write(LogStream.Error, line + "\n");
    public void Executor(string line) => Write(LogStream.Executor, line + "\n");

    public void Write(LogStream stream, string text)
    {
        var i = (int)stream;
        lock (_gate)
        {
            if (_truncated[i]) return;
            var size = System.Text.Encoding.UTF8.GetByteCount(text);
            if (_bytes[i] + size > maxBytesPerStream)
            {
                var room = (int)Math.Max(0, maxBytesPerStream - _bytes[i]);
                var head = room > 0 ? TruncateUtf8(text, room) : "";
                _truncated[i] = true;
                _bytes[i] = maxBytesPerStream;
                sink.Append(executionId, attempt, stream, head + TruncationMark);
                return;
            }
            _bytes[i] += size;
        }
        sink.Append(executionId, attempt, stream, text);
    }

    public bool IsTruncated(LogStream stream) => _truncated[(int)stream];

    private static string TruncateUtf8(string text, int maxBytes)
    {
        var chars = Math.Min(text.Length, maxBytes);
        while (chars > 0 && System.Text.Encoding.UTF8.GetByteCount(text.AsSpan(0, chars)) > maxBytes) chars--;
        return text[..chars];
    }
}
