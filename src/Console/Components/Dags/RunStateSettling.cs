using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Dags;

/// <summary>
/// A run's own state is recomputed after its last task's state change has been published, so a page that reloads on
/// that change can read the run one step behind (RUNNING with nothing left to run) and no further event comes to fix
/// it. While a run reads unsettled the page reads it again each second until its state catches up.
/// </summary>
public sealed class RunStateSettling(Func<Task> reload) : IDisposable
{
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);
    private const int MaxRereads = 60;
    private readonly CancellationTokenSource _stop = new();
    private int _pending;
    private int _rereads;

    /// <summary>QUEUED or RUNNING while none of its tasks waits in a queue, runs or stops: its state is about to change.</summary>
    public static bool IsUnsettled(DagRunState run, IEnumerable<ExecutionState> tasks) =>
        run is DagRunState.Queued or DagRunState.Running
        && !tasks.Any(t => t is ExecutionState.Scheduled or ExecutionState.Queued or ExecutionState.Running or ExecutionState.Cancelling);

    /// <summary>Call after each load: starts rereading when the run reads unsettled (once; later calls join it).</summary>
    public void Watch(bool unsettled)
    {
        if (!unsettled)
        {
            Volatile.Write(ref _rereads, 0);
            return;
        }
        if (Interlocked.Exchange(ref _pending, 1) == 1) return;
        _ = RereadAsync();
    }

    private async Task RereadAsync()
    {
        try
        {
            await Task.Delay(Pause, _stop.Token);
            Volatile.Write(ref _pending, 0);
            // The reload calls Watch again, which re-arms while the run still reads unsettled.
            if (Interlocked.Increment(ref _rereads) <= MaxRereads) await reload();
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
