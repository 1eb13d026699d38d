using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.JSInterop;

namespace Taskdeck.Console.Components.Layout;

public partial class MainLayout
{
    private bool _drawer = true;
    private bool _dark;
    private ErrorBoundary? _errors;

    [Inject] public required IJSRuntime JS { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender || !RendererInfo.IsInteractive) return;
        try
        {
            // The choice is kept per browser; until it is read the light theme shows.
            if (await JS.InvokeAsync<string?>("taskdeck.getTheme") == "dark")
            {
                _dark = true;
                StateHasChanged();
            }
        }
        catch (JSException) { }
    }

    protected override void OnParametersSet() => _errors?.Recover();

    private async Task ToggleDarkAsync()
    {
        _dark = !_dark;
        try { await JS.InvokeVoidAsync("taskdeck.setTheme", _dark ? "dark" : "light"); }
        catch (JSException) { }
    }

    private void Recover() => _errors?.Recover();
}
