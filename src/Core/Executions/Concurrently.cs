namespace Taskdeck.Core.Executions;

/// <summary>
/// Actions over many executions (kill a DAG run, restart it, reset by filter) run side by side: one at a time, each
/// would wait for its own group commit of the single writer (10,000 cancels took about two minutes); side by side
/// they share the writer's batches. Every action still goes through the state machine on its own.
/// </summary>
internal static class Concurrently
{
    private const int Width = 32;

    public static Task ForEachAsync<T>(IEnumerable<T> items, Func<T, CancellationToken, Task> action, CancellationToken ct) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = Width, CancellationToken = ct },
            async (item, token) => await action(item, token));
}
