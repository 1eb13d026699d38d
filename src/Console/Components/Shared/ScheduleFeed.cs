using System.Threading.Channels;
using Taskdeck.Core.Events;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// What a schedule page listens to: Core's schedule changes and firings (<see cref="ScheduleEvents"/>), and the state
/// changes of the runs schedules start (an outcome chip follows its run). Like <see cref="LiveFeed"/>, the relevant
/// events are buffered without blocking Core and handed over at most once per interval, so a burst costs one refresh.
/// </summary>
public sealed class ScheduleFeed(ScheduleEvents schedules, ExecutionEvents executions, ILogger<ScheduleFeed> logger)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(400);

    /// <param name="relevantSchedule">Which schedule changes matter to the page.</param>
    /// <param name="relevantRun">Which run state changes matter to the page (null: none).</param>
    public IAsyncDisposable Subscribe(Func<ScheduleEvent, bool> relevantSchedule, Func<StateChanged, bool>? relevantRun, Func<Task> onChange, TimeSpan? interval = null) =>
        new Subscription(schedules, executions, logger, relevantSchedule, relevantRun, onChange, interval ?? DefaultInterval);

    private sealed class Subscription : IAsyncDisposable
    {
        // One slot is enough: the page reloads what it shows, whatever changed.
        private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        private readonly CancellationTokenSource _stop = new();
        private readonly IDisposable _schedules;
        private readonly IDisposable? _runs;
        private readonly Task _pump;

        public Subscription(ScheduleEvents scheduleEvents, ExecutionEvents executionEvents, ILogger logger, Func<ScheduleEvent, bool> relevantSchedule, Func<StateChanged, bool>? relevantRun, Func<Task> onChange, TimeSpan interval)
        {
            _schedules = scheduleEvents.Subscribe(e =>
            {
                if (relevantSchedule(e)) _signal.Writer.TryWrite(true);
            });
            if (relevantRun is not null)
                _runs = executionEvents.Subscribe(e =>
                {
                    if (e is StateChanged changed && relevantRun(changed)) _signal.Writer.TryWrite(true);
                });
            _pump = PumpAsync(onChange, interval, logger, _stop.Token);
        }

        private async Task PumpAsync(Func<Task> onChange, TimeSpan interval, ILogger logger, CancellationToken ct)
        {
            try
            {
                while (await _signal.Reader.WaitToReadAsync(ct))
                {
                    await Task.Delay(interval, ct);
                    while (_signal.Reader.TryRead(out _)) { }
                    try { await onChange(); }
                    catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "A schedule page failed to refresh"); }
                }
            }
            catch (OperationCanceledException) { }
        }

        public async ValueTask DisposeAsync()
        {
            _schedules.Dispose();
            _runs?.Dispose();
            _signal.Writer.TryComplete();
            await _stop.CancelAsync();
            try { await _pump; } catch (OperationCanceledException) { }
            _stop.Dispose();
        }
    }
}
