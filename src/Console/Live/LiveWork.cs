namespace Taskdeck.Console.Live;

/// <summary>
/// What the console's live views have cost this node since it started, summed over every model: the time their queries
/// took and the time pages took to apply and draw their updates. Exported on <c>/api/metrics</c>
/// (<c>taskdeck_console_live_*_seconds_total</c>), so "what do the open pages cost" is read, not guessed.
/// </summary>
public sealed class LiveWork
{
    private long _queryTicks;
    private long _renderTicks;
    private long _queries;

    public TimeSpan Querying => TimeSpan.FromTicks(Interlocked.Read(ref _queryTicks));
    public TimeSpan Drawing => TimeSpan.FromTicks(Interlocked.Read(ref _renderTicks));
    public long Queries => Interlocked.Read(ref _queries);

    internal void AddQuery(TimeSpan spent)
    {
        Interlocked.Add(ref _queryTicks, spent.Ticks);
        Interlocked.Increment(ref _queries);
    }

    internal void AddRender(TimeSpan spent) => Interlocked.Add(ref _renderTicks, spent.Ticks);
}
