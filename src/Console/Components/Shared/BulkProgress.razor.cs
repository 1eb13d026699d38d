using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Bulk;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// Starts or follows one stored bulk act (<see cref="BulkActions"/>) and shows its progress while it runs — its stored counts,
/// read after each batch — then its result as a message. The act goes on on the server whatever happens to the page; leaving
/// only stops following it. Used by the executions page's bulk acts and a DAG run's kill and restart.
/// </summary>
public partial class BulkProgress : IDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    private readonly CancellationTokenSource _leaving = new();
    private BulkAction? _act;

    [Inject] public required BulkActions Bulk { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }

    /// <summary>What the records are called in the progress line ("tasks" on a DAG run's page).</summary>
    [Parameter] public string Noun { get; set; } = "";

    /// <summary>True while an act is being followed.</summary>
    public bool Running => _act is not null;

    /// <summary>
    /// Stores and starts the act as <paramref name="actor"/>, waits for it when small, else follows it until done, and
    /// reports the result. The act when it finished; null when it could not start (the message says why) or the page left.
    /// </summary>
    public async Task<BulkAction?> RunAsync(BulkAction draft, Actor actor)
    {
        try
        {
            var (act, finished) = await Bulk.StartAsync(draft, actor, waitIfAtMost: BulkActions.BatchSize, _leaving.Token);
            return finished ? Report(act) : await FollowAsync(act);
        }
        catch (OperationCanceledException) when (_leaving.IsCancellationRequested) { return null; }
        catch (Exception e)
        {
            Snackbar.Add($"{Verb(draft.Kind)} failed: {e.Message}", Severity.Error);
            return null;
        }
    }

    /// <summary>Follows an act already stored (started here or by anyone) until it is done, and reports its result.</summary>
    public async Task<BulkAction?> FollowAsync(long id)
    {
        try { return await Bulk.FindAsync(id, _leaving.Token) is { } act ? act.Finished ? Report(act) : await FollowAsync(act) : null; }
        catch (OperationCanceledException) when (_leaving.IsCancellationRequested) { return null; }
    }

    private async Task<BulkAction?> FollowAsync(BulkAction act)
    {
        try
        {
            while (!act.Finished)
            {
                _act = act;
                StateHasChanged();
                act = await Bulk.WaitAsync(act.Id, Poll, _leaving.Token) ?? act;
            }
            return Report(act);
        }
        catch (OperationCanceledException) when (_leaving.IsCancellationRequested) { return null; }
        finally
        {
            _act = null;
            if (!_leaving.IsCancellationRequested) StateHasChanged();
        }
    }

    /// <summary>The act shown from someone else's reads (<see cref="ShowAsync"/>), not followed here.</summary>
    private long? _shown;

    /// <summary>
    /// Shows an act that someone else carries on, as a shared model read it — no reads of its own while it lasts; null once
    /// none is under way: the one it showed is read once and its result reported.
    /// </summary>
    public async Task ShowAsync(BulkAction? act)
    {
        if (act is { Finished: false })
        {
            if (_act is { } shown && shown.Id == act.Id && shown.Applied == act.Applied && shown.Skipped == act.Skipped) return;
            (_act, _shown) = (act, act.Id);
            StateHasChanged();
            return;
        }
        if (_shown is not { } id) return;
        (_act, _shown) = (null, null);
        StateHasChanged();
        try
        {
            if (await Bulk.FindAsync(id, _leaving.Token) is { Finished: true } done) Report(done);
        }
        catch (OperationCanceledException) when (_leaving.IsCancellationRequested) { }
    }

    private BulkAction Report(BulkAction act)
    {
        var skipped = act.Skipped > 0 ? $" {act.Skipped:N0} skipped: their state no longer allowed it." : "";
        Snackbar.Add($"{Verb(act.Kind)}: {act.Applied:N0} of {act.Total:N0} done.{skipped}", act.Applied == act.Total ? Severity.Success : Severity.Warning);
        return act;
    }

    public static string Verb(BulkActionKind kind) => kind switch
    {
        BulkActionKind.Cancel => "Cancel",
        BulkActionKind.Retry => "Retry",
        BulkActionKind.Delete => "Delete",
        BulkActionKind.Reset => "Reset",
        BulkActionKind.KillDagRun => "Kill",
        BulkActionKind.RestartDagRun => "Restart",
        _ => kind.ToString(),
    };

    private static double Percent(BulkAction act) => act.Total == 0 ? 0 : 100.0 * (act.Applied + act.Skipped) / act.Total;

    // Not disposed: a follow loop may still be unwinding with its token.
    public void Dispose() => _leaving.Cancel();
}
