namespace Taskdeck.Core.Schedules;

/// <summary>A schedule as asked for (API body, console form, configuration); <see cref="ScheduleService"/> validates it.</summary>
public sealed record ScheduleDraft
{
    public string Name { get; init; } = "";
    public string? Description { get; init; }
    public string Cron { get; init; } = "";
    public string? TimeZone { get; init; }
    public bool Enabled { get; init; } = true;
    public OverlapPolicy Overlap { get; init; } = OverlapPolicy.Skip;
    public CatchUpPolicy CatchUp { get; init; } = CatchUpPolicy.Latest;
    public DateTimeOffset? StartAt { get; init; }
    public DateTimeOffset? EndAt { get; init; }
    public int JitterSeconds { get; init; }
    public ScheduleTargetKind Kind { get; init; }
    public string? Task { get; init; }
    public string? ArgsJson { get; init; }
    public IReadOnlyList<string> Command { get; init; } = [];
    public IReadOnlyList<string> Environment { get; init; } = [];
    public string? WorkingDirectory { get; init; }
    public string? DagJson { get; init; }
    public string Queue { get; init; } = "default";
    public int Priority { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public int MaxRetries { get; init; }
    public int RetryIntervalSeconds { get; init; }
    public int? TimeoutSeconds { get; init; }

    public static ScheduleDraft From(Schedule s) => new()
    {
        Name = s.Name, Description = s.Description, Cron = s.Cron, TimeZone = s.TimeZone, Enabled = s.Enabled, Overlap = s.Overlap, CatchUp = s.CatchUp,
        StartAt = s.StartAt, EndAt = s.EndAt, JitterSeconds = s.JitterSeconds, Kind = s.Kind, Task = s.Task, ArgsJson = s.ArgsJson, Command = s.Command,
        Environment = s.Environment, WorkingDirectory = s.WorkingDirectory, DagJson = s.DagJson, Queue = s.Queue, Priority = s.Priority, Tags = s.Tags,
        MaxRetries = s.MaxRetries, RetryIntervalSeconds = s.RetryIntervalSeconds, TimeoutSeconds = s.TimeoutSeconds,
    };
}
