using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// A MudDataGrid that a live page can reload quietly. MudDataGrid's own reload (<c>ReloadServerData</c>, in MudBlazor 9
/// <c>InvokeServerLoadFunc</c>) sets <c>Loading</c> and renders — the progress bar row under the header — awaits
/// <c>ServerData</c>, clears <c>Loading</c> and renders again, twice (<c>GroupItems</c>, then its own end): every live
/// reload of every open page drew the grid three times and flashed the bar. <see cref="ReloadQuietlyAsync"/> draws nothing
/// until the new rows are in, then the grid once. A reload the user asks for (sort, page, filter) is MudBlazor's own and
/// still shows that it loads.
/// </summary>
[CascadingTypeParameter(nameof(T))] // as MudDataGrid: its columns take the grid's T
public class QuietReloadGrid<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T> : MudDataGrid<T>
{
    private bool _quiet;

    /// <summary>How many times the grid itself rendered (not its cells).</summary>
    internal int OwnRenders { get; private set; }

    /// <summary>Reads the server data again without showing the loading state, and draws the grid once when it is in.</summary>
    public async Task ReloadQuietlyAsync()
    {
        _quiet = true;
        try { await ReloadServerData(); }
        finally { _quiet = false; }
        StateHasChanged();
    }

    // While a quiet reload runs, nothing is drawn: MudDataGrid asks for a render as it starts (the loading state), and two
    // as it ends (GroupItems, then the reload itself), each drawn at once outside a render batch. A user's reload started
    // meanwhile cancels the quiet one, and shows its bar from then on.
    protected override bool ShouldRender() => !_quiet && base.ShouldRender();

    protected override void OnAfterRender(bool firstRender)
    {
        OwnRenders++;
        base.OnAfterRender(firstRender);
    }
}
