using Microsoft.JSInterop;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// The viewer's time zone, asked of the browser once per circuit. Until it is known (prerendering) times show in UTC,
/// and every time carries its exact UTC instant as a tooltip.
/// </summary>
public sealed class ClientTime(IJSRuntime js)
{
    private Task? _loading;

    public TimeSpan Offset { get; private set; }
    public string ZoneName { get; private set; } = "UTC";
    public bool Known { get; private set; }

    public event Action? Changed;

    public Task EnsureAsync() => _loading ??= LoadAsync();

    private async Task LoadAsync()
    {
        try
        {
            var zone = await js.InvokeAsync<ZoneInfo?>("taskdeck.timeZone");
            if (zone is null) { _loading = null; return; }
            Offset = TimeSpan.FromMinutes(zone.OffsetMinutes);
            ZoneName = string.IsNullOrEmpty(zone.Name) ? "local" : zone.Name;
            Known = true;
            Changed?.Invoke();
        }
        catch (Exception e) when (e is JSException or InvalidOperationException or TaskCanceledException or JSDisconnectedException)
        {
            _loading = null; // prerendering or a dropped circuit: try again on the next interactive render
        }
    }

    public DateTimeOffset ToLocal(DateTimeOffset at) => at.ToOffset(Offset);

    public string Format(DateTimeOffset at, bool withDate = true)
    {
        var local = ToLocal(at);
        var today = ToLocal(DateTimeOffset.UtcNow).Date;
        return !withDate || local.Date == today ? local.ToString("HH:mm:ss") : local.ToString("yyyy-MM-dd HH:mm:ss");
    }

    public static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff") + " UTC";

    private sealed record ZoneInfo(int OffsetMinutes, string Name);
}
