using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Events;

public abstract record ExecutionEvent(long ExecutionId, DateTimeOffset At);

public sealed record StateChanged(long ExecutionId, DateTimeOffset At, ExecutionState? From, ExecutionState To, Transition? Transition,
    int AttemptNumber, long? DagRunId, string? NodeId) : ExecutionEvent(ExecutionId, At);

public sealed record LogAppended(long ExecutionId, DateTimeOffset At, int AttemptNumber, LogStream Stream, string Text) : ExecutionEvent(ExecutionId, At);

public sealed record ProgressChanged(long ExecutionId, DateTimeOffset At, double? Progress, string? Message) : ExecutionEvent(ExecutionId, At);

/// <summary>The process running an attempt said it started its work (a work task's spawned worker reporting <c>started</c>).</summary>
public sealed record WorkerStartReported(long ExecutionId, DateTimeOffset At, int AttemptNumber) : ExecutionEvent(ExecutionId, At);

/// <summary>
/// A work task's worker reported its progress while it runs (a later <c>executing</c> with metadata, which the task now
/// holds); the event names the attempt, the record holds what was reported.
/// </summary>
public sealed record WorkerProgressReported(long ExecutionId, DateTimeOffset At, int AttemptNumber) : ExecutionEvent(ExecutionId, At);

public sealed record ExecutionDeleted(long ExecutionId, DateTimeOffset At) : ExecutionEvent(ExecutionId, At);

/// <summary>
/// The in-process stream of everything that changes. Subscribers (pages, the WebSocket) get a callback that must not
/// block: they copy into their own bounded buffer. A subscriber that throws is dropped rather than slowing the engine.
/// </summary>
public sealed class ExecutionEvents
{
    private readonly Lock _gate = new();
    private Action<ExecutionEvent>[] _subscribers = [];

    public IDisposable Subscribe(Action<ExecutionEvent> onEvent)
    {
        lock (_gate) _subscribers = [.. _subscribers, onEvent];
        return new Subscription(this, onEvent);
    }

    public void Publish(ExecutionEvent e)
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            try { subscriber(e); }
            catch { Unsubscribe(subscriber); }
        }
    }

    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    private void Unsubscribe(Action<ExecutionEvent> onEvent)
    {
        lock (_gate) _subscribers = _subscribers.Where(s => s != onEvent).ToArray();
    }

    private sealed class Subscription(ExecutionEvents owner, Action<ExecutionEvent> onEvent) : IDisposable
    {
        public void Dispose() => owner.Unsubscribe(onEvent);
    }
}
