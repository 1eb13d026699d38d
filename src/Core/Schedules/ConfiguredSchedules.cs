using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Core.Schedules;

/// <summary>
/// Schedules declared under <c>Taskdeck:Schedules:&lt;name&gt;</c> (Cron, TimeZone, Task + Args, or Command +
/// Environment + WorkingDirectory, or Dag; Overlap, CatchUp, Enabled, StartAt, EndAt, JitterSeconds, Queue, Priority,
/// Tags, MaxRetries, RetryIntervalSeconds, TimeoutSeconds, Description). <c>Args</c> and <c>Dag</c> are either a JSON
/// string or a configuration object (whose values are then strings).
/// </summary>
public sealed class ConfiguredSchedules(IConfiguration configuration)
{
    public const string Section = "Taskdeck:Schedules";

    public IReadOnlyList<(ScheduleDraft Draft, bool EnabledGiven)> Read()
    {
        var list = new List<(ScheduleDraft, bool)>();
        foreach (var section in configuration.GetSection(Section).GetChildren())
        {
            string Path(string key) => $"{Section}:{section.Key}:{key}";
            string? Text(string key) => section[key] is { Length: > 0 } v ? v : null;
            T Parse<T>(string key, T fallback, Func<string, T?> parse) where T : struct =>
                Text(key) is not { } v ? fallback
                : parse(v) ?? throw new InvalidOperationException($"{Path(key)}: \"{v}\" is not valid.");
            int? Int(string v) => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
            DateTimeOffset? Time(string key) => Text(key) is not { } v ? null
                : DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t
                : throw new InvalidOperationException($"{Path(key)}: \"{v}\" is not a date and time.");
            List<string> Strings(string key) => section.GetSection(key).GetChildren().Select(c => c.Value ?? "").ToList();

            var hasTask = Text("Task") is not null;
            var hasCommand = section.GetSection("Command").GetChildren().Any();
            var dag = Json(section.GetSection("Dag"));
            var kinds = (hasTask ? 1 : 0) + (hasCommand ? 1 : 0) + (dag is not null ? 1 : 0);
            if (kinds != 1) throw new InvalidOperationException($"{Section}:{section.Key}: give exactly one of Task, Command or Dag.");
            var draft = new ScheduleDraft
            {
                Name = section.Key,
                Description = Text("Description"),
                Cron = Text("Cron") ?? throw new InvalidOperationException($"{Path("Cron")} is required."),
                TimeZone = Text("TimeZone"),
                Enabled = Parse("Enabled", true, v => bool.TryParse(v, out var b) ? b : null),
                Overlap = Parse("Overlap", OverlapPolicy.Skip, v => Enum.TryParse<OverlapPolicy>(v, true, out var p) && Enum.IsDefined(p) ? p : null),
                CatchUp = Parse("CatchUp", CatchUpPolicy.Latest, v => Enum.TryParse<CatchUpPolicy>(v, true, out var p) && Enum.IsDefined(p) ? p : null),
                StartAt = Time("StartAt"),
                EndAt = Time("EndAt"),
                JitterSeconds = Parse("JitterSeconds", 0, Int),
                Kind = hasTask ? ScheduleTargetKind.Handler : hasCommand ? ScheduleTargetKind.Command : ScheduleTargetKind.Dag,
                Task = Text("Task"),
                ArgsJson = Json(section.GetSection("Args")),
                Command = Strings("Command"),
                Environment = Strings("Environment"),
                WorkingDirectory = Text("WorkingDirectory"),
                DagJson = dag,
                Queue = Text("Queue") ?? "default",
                Priority = Parse("Priority", 0, Int),
                Tags = Strings("Tags"),
                MaxRetries = Parse("MaxRetries", 0, Int),
                RetryIntervalSeconds = Parse("RetryIntervalSeconds", 0, Int),
                TimeoutSeconds = Text("TimeoutSeconds") is null ? null : Parse("TimeoutSeconds", 0, Int),
            };
            list.Add((draft, Text("Enabled") is not null));
        }
        return list;
    }

    /// <summary>A JSON string value as given, or a configuration object/array as JSON (its values as strings).</summary>
    private static string? Json(IConfigurationSection section)
    {
        if (section.Value is { Length: > 0 } text) return text;
        var children = section.GetChildren().ToList();
        return children.Count == 0 ? null : Node(section)!.ToJsonString();
    }

    private static JsonNode? Node(IConfigurationSection section)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0) return section.Value is null ? null : JsonValue.Create(section.Value);
        if (children.All(c => int.TryParse(c.Key, out _)))
            return new JsonArray(children.OrderBy(c => int.Parse(c.Key, CultureInfo.InvariantCulture)).Select(Node).ToArray());
        var obj = new JsonObject();
        foreach (var child in children) obj[child.Key] = Node(child);
        return obj;
    }
}

/// <summary>Creates or updates the declared schedules at start; a declaration that does not validate stops the start, naming it.</summary>
internal sealed class ConfiguredSchedulesWriter(ConfiguredSchedules declared, IScheduleStore store, ScheduleService schedules, ILogger<ConfiguredSchedulesWriter> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (draft, enabledGiven) in declared.Read())
        {
            try
            {
                var existing = await store.FindByNameAsync(draft.Name, cancellationToken);
                // The deployment decides the definition; pausing stays the operator's unless the file says Enabled.
                var wanted = existing is not null && !enabledGiven ? draft with { Enabled = existing.Enabled } : draft;
                var outcome = existing is null
                    ? await schedules.CreateAsync(wanted, Audit.Actor.System, fromConfiguration: true, cancellationToken)
                    : Same(existing, wanted) ? null : await schedules.UpdateAsync(existing.Id, wanted, Audit.Actor.System, fromConfiguration: true, cancellationToken);
                if (outcome is { Done: false })
                    // Another node created it between our read and our write: it holds the same declaration.
                    logger.LogInformation("Configured schedule {Name}: {Message}", draft.Name, outcome.Message);
            }
            catch (ScheduleDefinitionException e)
            {
                throw new InvalidOperationException($"{ConfiguredSchedules.Section}:{draft.Name}: {e.Field}: {e.Message}", e);
            }
        }
    }

    private static bool Same(Schedule existing, ScheduleDraft wanted) =>
        existing.FromConfiguration && JsonSerializer.Serialize(ScheduleDraft.From(existing) with { Cron = "", TimeZone = "" })
            == JsonSerializer.Serialize(wanted with { Cron = "", TimeZone = "" })
        && existing.Cron == CronSchedule.Parse(wanted.Cron, wanted.TimeZone).Text && existing.TimeZone == (wanted.TimeZone ?? "UTC");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
