using Microsoft.AspNetCore.Components.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Hosting;
using Taskdeck.Unit.Bulk;

namespace Taskdeck.Unit.Console;

/// <summary>
/// The node's Blazor circuit options (<see cref="Footprint"/>): closed pages give their memory back within a minute
/// (bench -- console-live measures it; these tests pin the settings the real app starts with).
/// </summary>
public sealed class FootprintTests
{
    private static async Task<CircuitOptions> StartedWithAsync(Dictionary<string, string?> settings)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-circuits-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            await using var host = new FolderHost(folder, settings);
            return host.Services.GetRequiredService<IOptions<CircuitOptions>>().Value;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task TheConsole_KeepsADisconnectedCircuit30Seconds_AtMost20OfThem_AndGivesUpAnUnansweredJsCallAfter30Seconds()
    {
        var options = await StartedWithAsync([]);

        Assert.Equal(TimeSpan.FromSeconds(30), options.DisconnectedCircuitRetentionPeriod);
        Assert.Equal(20, options.DisconnectedCircuitMaxRetained);
        Assert.Equal(TimeSpan.FromSeconds(30), options.JSInteropDefaultCallTimeout);
        Assert.False(options.DetailedErrors);
    }

    [Fact]
    public async Task TaskdeckConsoleCircuits_OverridesACircuitOption_AndLeavesTheOthers()
    {
        var options = await StartedWithAsync(new() { ["Taskdeck:Console:Circuits:DisconnectedCircuitRetentionPeriod"] = "00:03:00" });

        Assert.Equal(TimeSpan.FromMinutes(3), options.DisconnectedCircuitRetentionPeriod);
        Assert.Equal(20, options.DisconnectedCircuitMaxRetained);
    }

    [Fact]
    public void ANegativeRetention_StopsTheStart_NamingTheSetting()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Taskdeck:Console:Circuits:DisconnectedCircuitMaxRetained"] = "-1",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration).AddTaskdeckFootprint(configuration).BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<CircuitOptions>>().Value);
        Assert.Contains("Taskdeck:Console:Circuits:DisconnectedCircuitMaxRetained", e.Message);
    }

    [Theory]
    [InlineData(1L << 20, 400L << 20, 200L << 20, true)]   // quiet, 200 MB more than after the last trim
    [InlineData(200L << 20, 400L << 20, 200L << 20, false)] // 200 MB allocated in the last interval: work is running
    [InlineData(1L << 20, 220L << 20, 200L << 20, false)]  // quiet, but the heap grew by 20 MB only
    public void TheTrimmer_CollectsOnlyWhenTheNodeIsQuiet_AndHoldsClearlyMoreThanAfterItsLastTrim(long allocated, long committed, long afterLastTrim, bool trims) =>
        Assert.Equal(trims, IdleMemoryTrimmer.ShouldTrim(allocated, committed, afterLastTrim));
}
