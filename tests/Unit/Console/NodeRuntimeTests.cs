using System.Text.Json;

namespace Taskdeck.Unit.Console;

/// <summary>
/// The runtime settings a node starts with (src/Console/NodeRuntime.props, written into the Console's runtimeconfig.json,
/// which the build copies beside this test assembly). Each one is measured in BENCHMARKS.md; these pin that they ship.
/// </summary>
public sealed class NodeRuntimeTests
{
    private static JsonElement ConsoleRuntimeSettings()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Taskdeck.Console.runtimeconfig.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").Clone();
    }

    [Fact]
    public void TheNodeRunsWorkstationGc()
    {
        Assert.False(ConsoleRuntimeSettings().GetProperty("System.GC.Server").GetBoolean());
    }

    [Fact]
    public void IdleThreadPoolWorkersDoNotSpin()
    {
        Assert.Equal(0, ConsoleRuntimeSettings().GetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit").GetInt32());
    }
}
