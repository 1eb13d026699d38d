using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.JSInterop;

namespace Taskdeck.Console.Components.Layout;

public partial class MainLayout
{
    private bool _drawer = true;
    private bool _dark;
    private ErrorBoundary? _errors;

    /// <summary>The browser's theme choice, kept in a cookie so the server renders the first HTML in it.</summary>
    public const string ThemeCookie = "taskdeck.theme";

    [Inject] public required IJSRuntime JS { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [CascadingParameter(Name = "DarkMode")] public bool InitialDarkMode { get; set; }

    protected override void OnInitialized() => _dark = InitialDarkMode;

    protected override void OnParametersSet() => _errors?.Recover();

    private async Task ToggleDarkAsync()
    {
        _dark = !_dark;
        try { await JS.InvokeVoidAsync("taskdeck.setTheme", _dark ? "dark" : "light"); }
        catch (JSException) { }
    }

    private void Recover() => _errors?.Recover();
}
