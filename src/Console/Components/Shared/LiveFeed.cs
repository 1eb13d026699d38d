using System.Threading.Channels;
using Taskdeck.Core.Events;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// Hands a page a subscription to Core's <see cref="ExecutionEvents"/>: the relevant events are buffered without
/// blocking the engine and delivered in batches, at most once per interval, so a burst of a thousand state changes
/// costs the page one refresh. The page applies a batch through <c>InvokeAsync</c> and disposes the subscription
/// in <c>DisposeAsync</c>. No page polls the database on a timer.
/// </summary>
public sealed class LiveFeed(ExecutionEvents events, ILogger<LiveFeed> logger)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(300);

    public IAsyncDisposable Subscribe(Func<ExecutionEvent, bool> relevant, Func<IReadOnlyList<ExecutionEvent>, Task> onBatch, TimeSpan? interval = null)
    {
        var every = interval ?? DefaultInterval;
        return Subscribe(relevant, onBatch, () => every);
    }

    /// <param name="interval">Asked before each batch: a page whose refresh grows costly with its data can slow down.</param>
    public IAsyncDisposable Subscribe(Func<ExecutionEvent, bool> relevant, Func<IReadOnlyList<ExecutionEvent>, Task> onBatch, Func<TimeSpan> interval) =>
        new Subscription(events, relevant, onBatch, interval, logger);

    private sealed class Subscription : IAsyncDisposable
    {
        private readonly Channel<ExecutionEvent> _buffer = Channel.CreateBounded<ExecutionEvent>(
            new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        private readonly CancellationTokenSource _stop = new();
        private readonly IDisposable _subscription;
        private readonly Task _pump;

        public Subscription(ExecutionEvents events, Func<ExecutionEvent, bool> relevant, Func<IReadOnlyList<ExecutionEvent>, Task> onBatch, Func<TimeSpan> interval, ILogger logger)
        {
            _subscription = events.Subscribe(e =>
            {
                if (relevant(e)) _buffer.Writer.TryWrite(e);
            });
            _pump = PumpAsync(onBatch, interval, logger, _stop.Token);
        }

        private async Task PumpAsync(Func<IReadOnlyList<ExecutionEvent>, Task> onBatch, Func<TimeSpan> interval, ILogger logger, CancellationToken ct)
        {
            try
            {
                while (await _buffer.Reader.WaitToReadAsync(ct))
                {
                    // Let a burst gather, then hand it over as one batch.
                    await Task.Delay(interval(), ct);
                    var batch = new List<ExecutionEvent>();
                    while (_buffer.Reader.TryRead(out var e)) batch.Add(e);
                    try { await onBatch(batch); }
                    catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "A live page failed to apply {Count} events", batch.Count); }
                }
            }
            catch (OperationCanceledException) { }
        }

        public async ValueTask DisposeAsync()
        {
            _subscription.Dispose();
            _buffer.Writer.TryComplete();
            await _stop.CancelAsync();
            try { await _pump; } catch (OperationCanceledException) { }
            _stop.Dispose();
        }
    }
}
