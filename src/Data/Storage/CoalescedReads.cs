using System.Collections.Concurrent;

namespace Taskdeck.Data.Storage;

/// <summary>
/// Reads of one shape that many callers ask at once (a DAG task's children, read at every success) become one statement
/// while one is already under way: group commit's idea applied to reads. A caller alone is read at once; callers that come
/// while a read is running are gathered and read together by the next, one statement at a time — the busier the database,
/// the fuller each statement. Each read starts after
/// it was asked for, so it sees every commit its caller saw. When a read of several fails, each is read again alone, so
/// one bad request fails only itself.
/// </summary>
/// <typeparam name="TRequest">What one caller asks.</typeparam>
/// <typeparam name="TAnswer">What one caller is answered.</typeparam>
public sealed class CoalescedReads<TRequest, TAnswer>(
    Func<TRequest, Task<TAnswer>> alone,
    Func<IReadOnlyList<TRequest>, Task<IReadOnlyList<TAnswer>>> together)
{
    private const int MaxInFlight = 1;
    private const int MaxTogether = 256;
    private readonly ConcurrentQueue<Asked> _asked = new();
    private int _reading;

    /// <summary>How many requests were answered by a statement shared with others since the start.</summary>
    public long AnsweredTogether => Interlocked.Read(ref _answeredTogether);
    private long _answeredTogether;

    public Task<TAnswer> ReadAsync(TRequest request, CancellationToken ct = default)
    {
        var asked = new Asked(request);
        _asked.Enqueue(asked);
        TryStartReader();
        return ct.CanBeCanceled ? asked.Answer.Task.WaitAsync(ct) : asked.Answer.Task;
    }

    private void TryStartReader()
    {
        while (true)
        {
            var reading = Volatile.Read(ref _reading);
            if (reading >= MaxInFlight || _asked.IsEmpty) return;
            if (Interlocked.CompareExchange(ref _reading, reading + 1, reading) != reading) continue;
            _ = Task.Run(ReadWhileAskedAsync);
            return;
        }
    }

    private async Task ReadWhileAskedAsync()
    {
        var batch = new List<Asked>();
        try
        {
            while (true)
            {
                batch.Clear();
                while (batch.Count < MaxTogether && _asked.TryDequeue(out var asked)) batch.Add(asked);
                if (batch.Count == 0) break;
                await AnswerAsync(batch);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _reading);
            // A request queued after this reader found the queue empty, while the readers were all busy, is not left behind.
            TryStartReader();
        }
    }

    private async Task AnswerAsync(List<Asked> batch)
    {
        if (batch.Count > 1)
        {
            try
            {
                var answers = await together([.. batch.Select(a => a.Request)]);
                // Counted before anyone is answered: a caller may look as soon as its answer is set.
                Interlocked.Add(ref _answeredTogether, batch.Count);
                for (var i = 0; i < batch.Count; i++) batch[i].Answer.TrySetResult(answers[i]);
                return;
            }
            catch (Exception e) when (StorageFailure.IsUnreachable(e))
            {
                // Read again one by one, each would wait out the same failure in turn, and every later caller behind them.
                foreach (var asked in batch) asked.Answer.TrySetException(e);
                return;
            }
            catch (Exception)
            {
                // Each again on its own below: one request the database refuses fails alone.
            }
        }
        foreach (var asked in batch)
        {
            try { asked.Answer.TrySetResult(await alone(asked.Request)); }
            catch (Exception e) { asked.Answer.TrySetException(e); }
        }
    }

    private sealed class Asked(TRequest request)
    {
        public TRequest Request => request;
        public TaskCompletionSource<TAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
