using System.Globalization;
using Microsoft.AspNetCore.Components;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Components.Submit;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>A field the server refused, with its reason (a <see cref="ScheduleDefinitionException"/> or a conflict).</summary>
public sealed record EditorProblem(string Field, string Message);

/// <summary>
/// The schedule form: the definition, what it starts (the Submit page's fields), and a live check of the cron
/// expression with its next fire times in the zone and in UTC, computed by Core as you type.
/// </summary>
public partial class ScheduleEditor
{
    private const string LocalFormat = "yyyy-MM-ddTHH:mm";
    private static readonly Lazy<string[]> Zones = new(() =>
        TimeZoneInfo.GetSystemTimeZones().Select(z => z.Id).Append("UTC").Distinct().Order(StringComparer.Ordinal).ToArray());

    private string _name = "";
    private string? _description;
    private string _cron = "";
    private string _zone = "UTC";
    private OverlapPolicy _overlap;
    private CatchUpPolicy _catchUp = CatchUpPolicy.Latest;
    private string? _startAt;
    private string? _endAt;
    private int _jitter;
    private bool _enabled = true;
    private ScheduleTargetKind _kind;
    private string? _task;
    private string _args = "{}";
    private string? _command;
    private string? _environment;
    private string? _workingDirectory;
    private string _dag = "";
    private string _queue = "default";
    private int _priority;
    private int _retries;
    private int _retryInterval = 5;
    private int? _timeout;
    private string? _tags;
    private CronPreview _preview = CronPreview.Problem("cron", "");

    [Parameter] public ScheduleDraft? Initial { get; set; }
    [Parameter, EditorRequired] public IReadOnlyCollection<string> HandlerNames { get; set; } = [];
    [Parameter] public EventCallback<ScheduleDraft> OnSave { get; set; }
    [Parameter] public EventCallback OnCancel { get; set; }
    [Parameter] public bool Busy { get; set; }
    [Parameter] public string SaveLabel { get; set; } = "Save";
    [Parameter] public EditorProblem? Problem { get; set; }

    [Inject] public required TimeProvider Time { get; init; }

    private string? CronError => _preview.Field == "cron" && _cron.Length > 0 ? _preview.Error : ErrorFor("cron");
    private string? ZoneError => _preview.Field == "timeZone" ? _preview.Error : ErrorFor("timeZone");
    private string? ArgsError { get; set; }
    private string? DagError { get; set; }
    private string ZoneLabel => _preview.Zone?.Id ?? _zone;

    private bool CanSave => !string.IsNullOrWhiteSpace(_name) && _preview.Valid && ArgsError is null && (_kind != ScheduleTargetKind.Dag || DagError is null);

    protected override void OnInitialized()
    {
        var d = Initial ?? new ScheduleDraft();
        _name = d.Name; _description = d.Description; _cron = d.Cron; _zone = string.IsNullOrWhiteSpace(d.TimeZone) ? "UTC" : d.TimeZone;
        _overlap = d.Overlap; _catchUp = d.CatchUp; _jitter = d.JitterSeconds; _enabled = d.Enabled; _kind = d.Kind;
        _startAt = ToLocalText(d.StartAt); _endAt = ToLocalText(d.EndAt);
        _task = d.Task ?? HandlerNames.FirstOrDefault(n => n == "demo.noop") ?? HandlerNames.FirstOrDefault();
        _args = d.ArgsJson ?? "{}";
        _command = string.Join('\n', d.Command); _environment = string.Join('\n', d.Environment); _workingDirectory = d.WorkingDirectory;
        _dag = Format.PrettyJson(d.DagJson);
        _queue = d.Queue; _priority = d.Priority; _retries = d.MaxRetries; _retryInterval = Initial is null ? 5 : d.RetryIntervalSeconds; _timeout = d.TimeoutSeconds;
        _tags = string.Join(", ", d.Tags);
        Refresh();
    }

    private void OnCronChanged(string value) { _cron = value ?? ""; Refresh(); }
    private void OnZoneChanged(string value) { _zone = value ?? ""; Refresh(); }
    private void OnStartChanged(string value) { _startAt = value; Refresh(); }
    private void OnEndChanged(string value) { _endAt = value; Refresh(); }
    private void OnArgsChanged(string value) { _args = value; ArgsError = HandlerSubmitForm.Validate(value); }
    private void OnDagChanged(string value) { _dag = value; DagError = string.IsNullOrWhiteSpace(value) ? "A DAG spec is required." : Format.JsonProblem(value); }

    /// <summary>Core checks the expression and computes the slots; the form only shows them.</summary>
    private void Refresh() =>
        _preview = ScheduleService.PreviewCron(_cron, _zone, Time.GetUtcNow(), 5, FromLocalText(_startAt), FromLocalText(_endAt));

    /// <summary>A problem from the last save, unless the field was edited since (the live check then speaks for itself).</summary>
    private string? ErrorFor(string field) => Problem is { } p && string.Equals(p.Field, field, StringComparison.OrdinalIgnoreCase) ? p.Message : null;

    private Task<IEnumerable<string>> SearchZones(string? text, CancellationToken ct) =>
        Task.FromResult(string.IsNullOrWhiteSpace(text) ? Zones.Value.AsEnumerable()
            : Zones.Value.Where(z => z.Contains(text.Trim(), StringComparison.OrdinalIgnoreCase)));

    private string InZone(DateTimeOffset at) => Format.InZone(at, _preview.Zone ?? TimeZoneInfo.Utc);

    /// <summary>The form's date-time fields hold wall-clock times in the schedule's zone.</summary>
    private DateTimeOffset? FromLocalText(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || !DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local)) return null;
        var zone = CronSchedule.FindZoneOrUtc(_zone);
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    private string? ToLocalText(DateTimeOffset? at)
    {
        if (at is null) return null;
        return TimeZoneInfo.ConvertTime(at.Value, CronSchedule.FindZoneOrUtc(_zone)).ToString(LocalFormat, CultureInfo.InvariantCulture);
    }

    private static IReadOnlyList<string> Lines(string? text) =>
        (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public ScheduleDraft ToDraft() => new()
    {
        Name = _name.Trim(), Description = _description, Cron = _cron, TimeZone = _zone, Enabled = _enabled, Overlap = _overlap, CatchUp = _catchUp,
        StartAt = FromLocalText(_startAt), EndAt = FromLocalText(_endAt), JitterSeconds = _jitter, Kind = _kind,
        Task = _kind == ScheduleTargetKind.Handler ? _task : null,
        ArgsJson = _kind == ScheduleTargetKind.Handler && !string.IsNullOrWhiteSpace(_args) ? _args : null,
        Command = _kind == ScheduleTargetKind.Command ? Lines(_command) : [],
        Environment = _kind == ScheduleTargetKind.Command ? Lines(_environment) : [],
        WorkingDirectory = _kind == ScheduleTargetKind.Command && !string.IsNullOrWhiteSpace(_workingDirectory) ? _workingDirectory.Trim() : null,
        DagJson = _kind == ScheduleTargetKind.Dag ? _dag : null,
        Queue = string.IsNullOrWhiteSpace(_queue) ? "default" : _queue.Trim(), Priority = _priority, MaxRetries = _retries, RetryIntervalSeconds = _retryInterval,
        TimeoutSeconds = _timeout, Tags = (_tags ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
    };

    private async Task SaveAsync()
    {
        if (_kind == ScheduleTargetKind.Handler) ArgsError = HandlerSubmitForm.Validate(_args);
        if (_kind == ScheduleTargetKind.Dag) OnDagChanged(_dag);
        Refresh();
        if (!CanSave) return;
        await OnSave.InvokeAsync(ToDraft());
    }
}
