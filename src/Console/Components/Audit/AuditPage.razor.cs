using Taskdeck.Console.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;
using MudBlazor;
using Taskdeck.Core.Audit;
using Taskdeck.Data.Audit;

namespace Taskdeck.Console.Components.Audit;

/// <summary>The audit trail: newest first, filtered and paged in the database; the filters are the URL.</summary>
public partial class AuditPage
{
    private const int ShownIds = 5;
    private static readonly string[] ActionGroups = ["auth.", "execution.", "dagrun.", "user.", "token.", "schedule.", "setting."];

    private MudDataGrid<AuditEntry>? _grid;
    private MatchingTotal? _matching;
    private bool _loaded;
    private string? _lastQuery;
    private IReadOnlyList<string> _actions = AuditActions.Known;
    private IReadOnlySet<long> _liveExecutions = new HashSet<long>();
    private IReadOnlySet<long> _liveRuns = new HashSet<long>();

    [SupplyParameterFromQuery(Name = "actor")] public string? ActorName { get; set; }
    [SupplyParameterFromQuery(Name = "kind")] public string? Kind { get; set; }
    [SupplyParameterFromQuery(Name = "action")] public string? Action { get; set; }
    [SupplyParameterFromQuery(Name = "record")] public string? Record { get; set; }
    [SupplyParameterFromQuery(Name = "outcome")] public string? Outcome { get; set; }
    [SupplyParameterFromQuery(Name = "range")] public string? Range { get; set; }

    [Inject] public required AuditQueries Queries { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required TimeProvider Time { get; init; }
    [Inject] public required IOptions<AuditOptions> Options { get; init; }

    private int Retention => Options.Value.RetentionDays;

    private bool HasFilters => new[] { ActorName, Kind, Action, Record, Outcome, Range }.Any(v => !string.IsNullOrWhiteSpace(v));

    private string EmptyText => HasFilters ? "No audited act matches these filters. Clear a filter to see more." : "Nothing has been done yet: every submit, cancel, retry, reset, delete and sign-in will be listed here.";

    protected override async Task OnInitializedAsync()
    {
        try { _actions = (await Queries.ActionsAsync()).Union(AuditActions.Known).Order().ToList(); }
        catch (Exception e) { Snackbar.Add($"Could not read the action names: {e.Message}", Severity.Warning); }
    }

    protected override async Task OnParametersSetAsync()
    {
        var query = Navigation.Uri;
        if (_lastQuery is not null && _lastQuery != query && _grid is not null) await _grid.ReloadServerData();
        _lastQuery = query;
    }

    public AuditFilter CurrentFilter()
    {
        var now = Time.GetUtcNow();
        DateTimeOffset? from = Range switch
        {
            "1h" => now.AddHours(-1),
            "24h" => now.AddHours(-24),
            "7d" => now.AddDays(-7),
            "30d" => now.AddDays(-30),
            _ => null,
        };
        return new AuditFilter
        {
            Actor = Blank(ActorName),
            ActorKind = Enum.TryParse<ActorKind>(Kind, true, out var kind) ? kind : null,
            Action = Blank(Action),
            RecordId = Blank(Record),
            Outcome = Enum.TryParse<AuditOutcome>(Outcome, true, out var outcome) ? outcome : null,
            From = from,
        };
    }

    private async Task<GridData<AuditEntry>> LoadAsync(GridState<AuditEntry> state, CancellationToken ct)
    {
        try
        {
            var page = await Queries.PageAsync(CurrentFilter(), state.Page * state.PageSize, state.PageSize, ct);
            (_liveExecutions, _liveRuns) = await Queries.ExistingAsync(page.Items, ct);
            _ = InvokeAsync(() => _matching?.Show(page.Total));
            _loaded = true;
            return new GridData<AuditEntry> { Items = page.Items, TotalItems = page.Total };
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e)
        {
            Snackbar.Add($"Could not load the audit trail: {e.Message}", Severity.Error);
            return new GridData<AuditEntry> { Items = [], TotalItems = 0 };
        }
    }

    /// <summary>A link to the record while it still exists; null once deleted (the entry still names it).</summary>
    private string? LinkTo(string? type, string id) =>
        long.TryParse(id, out var n) ? type switch
        {
            AuditRecordTypes.Execution when _liveExecutions.Contains(n) => $"/executions/{n}",
            AuditRecordTypes.DagRun when _liveRuns.Contains(n) => $"/dags/{n}",
            _ => null,
        } : null;

    /// <summary>
    /// Executions and DAG runs have pages of their own: one without a link was deleted, and is struck through. Users,
    /// tokens, schedules and settings are named as text (their own pages list them), never shown as gone.
    /// </summary>
    private static bool HasPage(string? type) => type is AuditRecordTypes.Execution or AuditRecordTypes.DagRun;

    private static string RecordLabel(string? type, string id) => type switch
    {
        AuditRecordTypes.Execution => $"#{id}",
        AuditRecordTypes.DagRun => $"run {id}",
        null => id,
        _ => $"{type} {id}",
    };

    private static string KindLabel(ActorKind kind) => kind switch
    {
        ActorKind.User => "User",
        ActorKind.ApiToken => "API token",
        ActorKind.Anonymous => "Anonymous",
        ActorKind.System => "System",
        _ => kind.ToString(),
    };

    private static string KindIcon(ActorKind kind) => kind switch
    {
        ActorKind.User => Icons.Material.Filled.Person,
        ActorKind.ApiToken => Icons.Material.Filled.Key,
        ActorKind.Anonymous => Icons.Material.Filled.PersonOutline,
        _ => Icons.Material.Filled.SettingsSuggest,
    };

    private static Color OutcomeColor(AuditOutcome outcome) => outcome switch
    {
        AuditOutcome.Applied => Color.Success,
        AuditOutcome.Partial => Color.Warning,
        _ => Color.Error,
    };

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    /// <summary>Every filter change is a navigation: the URL is the filter, so it can be shared.</summary>
    private void Apply(string? actor = null, string? kind = null, string? action = null, string? record = null, string? outcome = null, string? range = null)
    {
        string? Pick(string? changed, string? current) => changed is null ? Blank(current) : Blank(changed);
        var values = new Dictionary<string, object?>
        {
            ["actor"] = Pick(actor, ActorName), ["kind"] = Pick(kind, Kind), ["action"] = Pick(action, Action), ["record"] = Pick(record, Record),
            ["outcome"] = Pick(outcome, Outcome), ["range"] = Pick(range, Range),
        };
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(values), replace: true);
    }
}
