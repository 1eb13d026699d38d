using Bunit;
using Microsoft.AspNetCore.Components;

namespace Taskdeck.Unit.Live;

internal static class Settling
{
    /// <summary>The page holds still: its render count does not move for a second (within <paramref name="deadline"/>).</summary>
    public static async Task SettledAsync<TPage>(this IRenderedComponent<TPage> cut, TimeSpan deadline) where TPage : IComponent
    {
        var giveUpAt = DateTime.UtcNow + deadline;
        var last = cut.RenderCount;
        var since = DateTime.UtcNow;
        while (DateTime.UtcNow - since < TimeSpan.FromSeconds(1))
        {
            if (DateTime.UtcNow > giveUpAt) throw new TimeoutException($"The page kept rendering ({cut.RenderCount} renders).");
            await Task.Delay(100);
            if (cut.RenderCount != last) { last = cut.RenderCount; since = DateTime.UtcNow; }
        }
    }
}
