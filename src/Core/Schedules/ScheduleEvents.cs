namespace Taskdeck.Core.Schedules;

public enum ScheduleChange { Created, Updated, Deleted, Fired }

public sealed record ScheduleEvent(long ScheduleId, string Name, ScheduleChange Change, DateTimeOffset At);

/// <summary>
/// The in-process stream of schedule changes and firings (pages listen to it beside the execution events). A
/// subscriber must not block; one that throws is dropped.
/// </summary>
public sealed class ScheduleEvents
{
    private readonly Lock _gate = new();
    private Action<ScheduleEvent>[] _subscribers = [];

    public IDisposable Subscribe(Action<ScheduleEvent> onEvent)
    {
        lock (_gate) _subscribers = [.. _subscribers, onEvent];
        return new Subscription(this, onEvent);
    }

    public void Publish(ScheduleEvent e)
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            try { subscriber(e); }
            catch { Unsubscribe(subscriber); }
        }
    }

    private void Unsubscribe(Action<ScheduleEvent> onEvent)
    {
        lock (_gate) _subscribers = _subscribers.Where(s => s != onEvent).ToArray();
    }

    private sealed class Subscription(ScheduleEvents owner, Action<ScheduleEvent> onEvent) : IDisposable
    {
        public void Dispose() => owner.Unsubscribe(onEvent);
    }
}
