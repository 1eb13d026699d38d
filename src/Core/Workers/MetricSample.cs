namespace Taskdeck.Core.Workers;

/// <summary>Queue length over time: one sample a minute, so the chart reads a few rows, not the history.</summary>
public sealed class MetricSample
{
    public DateTimeOffset At { get; set; }
    public int Queued { get; set; }
    public int Running { get; set; }
    public int Waiting { get; set; }
}
