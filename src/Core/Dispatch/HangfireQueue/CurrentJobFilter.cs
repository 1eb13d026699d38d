using Hangfire.Server;

namespace Taskdeck.Core.Dispatch.HangfireQueue;

/// <summary>
/// Tells a running job its own Hangfire id: every claim is made in the name of the job it runs in, so the record names
/// the job that ran it — also one a worker took on with no job of its own (see <see cref="ExecutionDispatcher.Continuation"/>),
/// or one whose dispatcher's note of its job was skipped on a cluster. A filter rather than a job parameter: jobs already
/// stored in a durable storage keep their method's signature.
/// </summary>
public sealed class CurrentJobFilter : IServerFilter
{
    private static readonly AsyncLocal<string?> Current = new();

    /// <summary>The Hangfire job whose method runs in this flow, or null outside one.</summary>
    public static string? JobId => Current.Value;

    // Hangfire calls both on the worker's thread around the job method's invocation, so the value flows into the method.
    public void OnPerforming(PerformingContext context) => Current.Value = context.BackgroundJob.Id;

    public void OnPerformed(PerformedContext context) => Current.Value = null;
}
