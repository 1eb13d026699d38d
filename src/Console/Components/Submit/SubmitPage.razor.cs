using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Console.Components.Submit;

public partial class SubmitPage
{
    private bool _busy;
    private string _dagJson = "";
    private IReadOnlyList<DagProblem>? _dagProblems;

    [SupplyParameterFromQuery(Name = "task")] public string? TaskName { get; set; }

    [Inject] public required TaskHandlerRegistry Handlers { get; init; }
    [Inject] public required ExecutionService Executions { get; init; }
    [Inject] public required IServiceProvider Services { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }

    /// <summary>Null until the DAG engine registers one; the DAG tab shows only then.</summary>
    private IDagSubmitter? Dags => Services.GetService<IDagSubmitter>();

    private async Task SubmitTaskAsync(NewExecution spec)
    {
        _busy = true;
        try
        {
            var execution = await Executions.SubmitAsync(spec);
            Snackbar.Add($"Submitted #{execution.Id} ({execution.Name}).", Severity.Success);
            Navigation.NavigateTo($"/executions/{execution.Id}");
        }
        catch (InvalidSubmissionException e) { Snackbar.Add($"{e.Field}: {e.Message}", Severity.Error); }
        catch (Exception e) { Snackbar.Add($"The submission failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    private async Task ValidateDagAsync()
    {
        if (Dags is not { } dags) return;
        if (Format.JsonProblem(_dagJson) is { } problem) { _dagProblems = [new DagProblem("spec", problem)]; return; }
        _busy = true;
        try { _dagProblems = await dags.ValidateAsync(_dagJson); }
        catch (Exception e) { Snackbar.Add($"Validation failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    private async Task SubmitDagAsync()
    {
        if (Dags is not { } dags) return;
        if (Format.JsonProblem(_dagJson) is { } problem) { _dagProblems = [new DagProblem("spec", problem)]; return; }
        _busy = true;
        try
        {
            var result = await dags.SubmitAsync(_dagJson);
            if (result.RunId is { } run) Navigation.NavigateTo($"/dags/{run}");
            else _dagProblems = result.Problems;
        }
        catch (Exception e) { Snackbar.Add($"The DAG submission failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }
}
