using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Core.Dispatch;

/// <summary>
/// Creates the Hangfire jobs of a big submission after the submit has answered. The records are stored and waiting
/// before they get here, so nothing is lost if this process dies first: the <see cref="Workers.Reconciler"/> dispatches
/// waiting records without a live job (at the next start, and on any node once its grace period has passed). Hangfire
/// has no bulk create, and a 10,000-task DAG would otherwise make its submitter wait for 10,000 job creations.
/// </summary>
public sealed class DispatchBacklog(ExecutionDispatcher dispatcher, TimeProvider time, ILogger<DispatchBacklog> logger) : BackgroundService
{
    /// <summary>Submissions with at most this many due records are dispatched before the submit answers.</summary>
    public const int InlineLimit = 100;

    private const int ChunkSize = 500;
    private readonly Channel<IReadOnlyList<(long Id, int Priority, DateTimeOffset? RunAt)>> _waiting =
        Channel.CreateUnbounded<IReadOnlyList<(long, int, DateTimeOffset?)>>(new UnboundedChannelOptions { SingleReader = true });
    private int _pending;

    /// <summary>Records accepted here and not yet given a Hangfire job.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public void Add(IReadOnlyList<(long Id, int Priority, DateTimeOffset? RunAt)> due)
    {
        Interlocked.Add(ref _pending, due.Count);
        _waiting.Writer.TryWrite(due);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var due in _waiting.Reader.ReadAllAsync(stoppingToken))
            {
                foreach (var chunk in due.Chunk(ChunkSize))
                {
                    try
                    {
                        await dispatcher.DispatchManyAsync(chunk, time.GetUtcNow(), stoppingToken, moreBehind: Pending > chunk.Length);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        logger.LogWarning(e, "Creating Hangfire jobs for {Count} waiting executions failed; the reconciler will dispatch them", chunk.Length);
                    }
                    Interlocked.Add(ref _pending, -chunk.Length);
                }
            }
        }
        catch (OperationCanceledException) { /* stopping: what is left waits for the reconciler */ }
    }
}
