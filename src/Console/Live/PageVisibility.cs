using Microsoft.JSInterop;

namespace Taskdeck.Console.Live;

/// <summary>
/// Whether this circuit's browser tab is visible, as the Page Visibility API reports it (<c>wwwroot/js/live.js</c>,
/// started by the layout's <c>VisibilityProbe</c>). One per circuit; live views skip a hidden tab.
/// </summary>
public sealed class PageVisibility
{
    private int _hidden;

    public bool Hidden => Volatile.Read(ref _hidden) == 1;

    /// <summary>Raised after <see cref="Hidden"/> changed.</summary>
    public event Action? Changed;

    [JSInvokable]
    public void SetHidden(bool hidden)
    {
        if (Interlocked.Exchange(ref _hidden, hidden ? 1 : 0) == (hidden ? 1 : 0)) return;
        Changed?.Invoke();
    }
}
