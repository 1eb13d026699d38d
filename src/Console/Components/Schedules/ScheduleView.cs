using System.Text.Json;
using MudBlazor;
using Taskdeck.Core.Schedules;
using Taskdeck.Console.Components.Shared;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>Every URL the schedule pages link to.</summary>
public static class ScheduleLinks
{
    public const string List = "/schedules";
    public const string New = "/schedules/new";
    public static string Detail(string name) => $"/schedules/{Uri.EscapeDataString(name)}";
    public static string Edit(string name) => $"/schedules/{Uri.EscapeDataString(name)}/edit";
    public static string Executions(string name) => $"/executions?schedule={Uri.EscapeDataString(name)}";
    public static string DagRuns(string name) => $"/dags?schedule={Uri.EscapeDataString(name)}";
    public static string Execution(long id) => $"/executions/{id}";
    public static string DagRun(long id) => $"/dags/{id}";
}

/// <summary>A schedule as the pages show it (bound instead of Core's mutable entity).</summary>
public sealed record ScheduleView(
    long Id, string Name, string? Description, ScheduleTargetKind Kind, string Target, string Cron, string CronInWords, string TimeZone,
    bool Enabled, bool FromConfiguration, OverlapPolicy Overlap, CatchUpPolicy CatchUp, DateTimeOffset? StartAt, DateTimeOffset? EndAt,
    int JitterSeconds, IReadOnlyList<DateTimeOffset> Next, FiringView? LastFiring)
{
    public DateTimeOffset? NextFire => Next.Count > 0 ? Next[0] : null;

    public static ScheduleView From(Schedule s, IReadOnlyList<DateTimeOffset> next, FiringView? last) => new(
        s.Id, s.Name, s.Description, s.Kind, Describe(s), s.Cron, CronDescriber.Describe(s.Cron), s.TimeZone, s.Enabled, s.FromConfiguration,
        s.Overlap, s.CatchUp, s.StartAt, s.EndAt, s.JitterSeconds, next, last);

    /// <summary>What one slot starts, in a few words: the handler, the command line, or the DAG's tag.</summary>
    public static string Describe(Schedule s) => s.Kind switch
    {
        ScheduleTargetKind.Command => string.Join(' ', s.Command.Select(a => a.Contains(' ') ? $"\"{a}\"" : a)),
        ScheduleTargetKind.Dag => DagTag(s.DagJson),
        _ => s.Task ?? "",
    };

    private static string DagTag(string? json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json ?? "{}");
            var tag = doc.RootElement.TryGetProperty("tag", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            var tasks = doc.RootElement.TryGetProperty("tasks", out var ts) && ts.ValueKind == JsonValueKind.Object ? ts.EnumerateObject().Count() : 0;
            return $"{(string.IsNullOrEmpty(tag) ? "(untagged)" : tag)} · {tasks} {(tasks == 1 ? "task" : "tasks")}";
        }
        catch (JsonException) { return "DAG"; }
    }
}

/// <summary>Colours, icons and words for schedules and their firings.</summary>
public static class ScheduleStyle
{
    public static string KindIcon(ScheduleTargetKind kind) => kind switch
    {
        ScheduleTargetKind.Command => Icons.Material.Filled.Terminal,
        ScheduleTargetKind.Dag => Icons.Material.Filled.AccountTree,
        _ => Icons.Material.Filled.Bolt,
    };

    public static string KindLabel(ScheduleTargetKind kind) => kind switch
    {
        ScheduleTargetKind.Command => "Command",
        ScheduleTargetKind.Dag => "DAG",
        _ => "Handler",
    };

    /// <summary>A started firing shows its run's state (what an operator wants to know); the others their outcome.</summary>
    public static string OutcomeLabel(FiringView v) => v.Firing.Outcome switch
    {
        FiringOutcome.Started when v.ExecutionState is { } state => StateStyle.Label(state),
        FiringOutcome.Started when v.DagRunState is { } run => run.ToString(),
        FiringOutcome.Started => "Started",
        FiringOutcome.Failed => "Could not start",
        var other => other.ToString(),
    };

    public static Color OutcomeColor(FiringView v) => v.Firing.Outcome switch
    {
        FiringOutcome.Started when v.ExecutionState is { } state => StateStyle.Color(state),
        FiringOutcome.Started when v.DagRunState is { } run => StateStyle.Color(run),
        FiringOutcome.Started => Color.Primary,
        FiringOutcome.Skipped => Color.Default,
        FiringOutcome.Buffered => Color.Secondary,
        _ => Color.Error,
    };

    public static string KindLabel(FiringKind kind) => kind switch
    {
        FiringKind.CatchUp => "catch-up",
        FiringKind.Manual => "manual",
        _ => "on time",
    };

    public static string OverlapText(OverlapPolicy o) => o switch
    {
        OverlapPolicy.Allow => "Allow: start beside the previous run",
        OverlapPolicy.BufferOne => "BufferOne: start right after the previous run",
        OverlapPolicy.CancelPrevious => "CancelPrevious: cancel it, then start",
        _ => "Skip: do not start while the previous run goes on",
    };

    public static string CatchUpText(CatchUpPolicy c) => c switch
    {
        CatchUpPolicy.None => "None: only the next slot",
        CatchUpPolicy.All => "All: every missed slot (capped)",
        _ => "Latest: one run for the missed slots",
    };
}
