using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using System.Text.Json;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Console.Components.Submit;

public partial class SubmitPage
{
    private bool _busy;
    private string _dagJson = "";
    private IReadOnlyList<string>? _dagProblems;

    [SupplyParameterFromQuery(Name = "task")] public string? TaskName { get; set; }

    [Inject] public required TaskHandlerRegistry Handlers { get; init; }
    [Inject] public required ExecutionService Executions { get; init; }
    [Inject] public required DagService Dags { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    private async Task SubmitTaskAsync(NewExecution spec)
    {
        _busy = true;
        try
        {
            var actor = spec.Kind == ExecutorKind.Command ? await Actor.ForAsync(Auth.Policies.Submit, Auth.Policies.RunCommands) : await Actor.ForAsync(Auth.Policies.Submit);
            var execution = await Executions.SubmitAsync(spec, actor);
            Snackbar.Add($"Submitted #{execution.Id} ({execution.Name}).", Severity.Success);
            Navigation.NavigateTo($"/executions/{execution.Id}");
        }
        // The command tab's one field takes its own errors beside it; the handler form's fields are the form's own.
        catch (InvalidSubmissionException e) when (spec.Kind == ExecutorKind.Command && e.Field == "command") { _commandError = e.Message; }
        catch (InvalidSubmissionException e) { Snackbar.Add($"{e.Field}: {e.Message}", Severity.Error); }
        catch (Exception e) { Snackbar.Add($"The submission failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    private string _commandText = "";
    private string _commandTags = "";
    private string? _commandError;

    // The button is not disabled until the text arrives: under load the last keystroke's round trip can lag the click, and a
    // disabled button would swallow it. A press with nothing to run gets the service's own answer at the field instead.
    private Task SubmitCommandAsync()
    {
        var argv = _commandText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        _commandError = null;
        return SubmitTaskAsync(new NewExecution
        {
            Kind = ExecutorKind.Command,
            Name = argv.FirstOrDefault() ?? "",
            Command = argv,
            Tags = _commandTags.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        });
    }

    private async Task ValidateDagAsync()
    {
        using var spec = ParseDag();
        if (spec is null) return;
        _busy = true;
        try { _dagProblems = (await Dags.ValidateAsync(spec.RootElement)).Errors; }
        catch (Exception e) { Snackbar.Add($"Validation failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    private async Task SubmitDagAsync()
    {
        using var spec = ParseDag();
        if (spec is null) return;
        _busy = true;
        try
        {
            var mayRunCommands = await Actor.HasAsync(Auth.Policies.RunCommands);
            var actor = !mayRunCommands && Dags.StartsCommands(spec.RootElement)
                ? await Actor.ForAsync(Auth.Policies.Submit, Auth.Policies.RunCommands) : await Actor.ForAsync(Auth.Policies.Submit);
            var submission = await Dags.SubmitAsync(spec.RootElement, actor, mayRunCommands);
            if (submission.RunId is { } run) Navigation.NavigateTo($"/dags/{run}");
            else _dagProblems = submission.Errors;
        }
        catch (Exception e) { Snackbar.Add($"The DAG submission failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    /// <summary>The spec as JSON, or null with the parse problem shown.</summary>
    private JsonDocument? ParseDag()
    {
        if (string.IsNullOrWhiteSpace(_dagJson)) { _dagProblems = ["The spec is empty: paste a DAG spec (JSON)."]; return null; }
        JsonDocument spec;
        try { spec = JsonDocument.Parse(_dagJson); }
        catch (JsonException) { _dagProblems = [Format.JsonProblem(_dagJson)!]; return null; }
        if (Api.JsonText.ProblemIn(spec.RootElement) is not { } notText) return spec;
        spec.Dispose();
        _dagProblems = [notText];
        return null;
    }
}
