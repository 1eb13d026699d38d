using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Hosting;
using Taskdeck.Unit.Bulk;
using Taskdeck.Unit.Health;

namespace Taskdeck.Unit.Console;

/// <summary>
/// The node's Blazor circuit options (<see cref="Footprint"/>): closed pages give their memory back within a minute
/// (bench -- console-live measures it; these tests pin the settings the real app starts with). Alone: SQLite's memory
/// is counted for the whole process, and other tests clear every connection pool when they end.
/// </summary>
[Collection(OwnHostCollection.Name)]
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
    public async Task StorageMemory_GivesBackWhatSQLitesPooledReadersCached_WhenReleased()
    {
        const int readers = 8;
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-sqlite-memory-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            await using var host = new FolderHost(folder, new Dictionary<string, string?> { ["Taskdeck:Console:TrimMemoryWhenIdle"] = "false" });
            var writes = host.Services.GetRequiredService<Taskdeck.Data.Storage.WriteQueue>();
            var database = host.Services.GetRequiredService<Taskdeck.Data.Storage.TaskdeckDatabase>();
            var memory = host.Services.GetRequiredService<Taskdeck.Data.Storage.StorageMemory>();
            await writes.RunAsync(async (connection, transaction) =>
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "CREATE TABLE Fill (Data BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 640) INSERT INTO Fill SELECT randomblob(65536) FROM n;";
                return await command.ExecuteNonQueryAsync();
            });
            // Eight reads open at once, as eight live pages make them: eight connections, each keeping a full page cache
            // (SQLite's default, 2 MB) of the 40 MB it read, and keeping it in the pool once closed.
            var connections = new List<System.Data.Common.DbConnection>();
            for (var i = 0; i < readers; i++)
            {
                var connection = database.CreateConnection();
                connections.Add(connection);
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                // hex() reads every byte (length() alone reads a blob's size from its header, not its pages).
                command.CommandText = "SELECT sum(length(hex(Data))) FROM Fill";
                Assert.Equal(640L * 65536 * 2, Convert.ToInt64(await command.ExecuteScalarAsync()));
            }
            var before = memory.SqliteBytes;
            foreach (var connection in connections) await connection.DisposeAsync();

            await memory.ReleaseAsync();

            var after = memory.SqliteBytes;
            // Other tests' connections live in this process too: the margin is half of what the readers cached.
            Assert.True(before - after >= (readers << 20), $"SQLite held {before >> 20} MB, then {after >> 20} MB");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
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

    [Fact]
    public async Task EveryCircuit_IsCounted_OpenAndThenClosed_UntilTheTrimmerGivesTheMemoryBack()
    {
        var configuration = new ConfigurationBuilder().Build();
        await using var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration).AddTaskdeckFootprint(configuration).BuildServiceProvider();
        var circuits = services.GetRequiredService<OpenCircuits>();
        var scopes = Enumerable.Range(0, 3).Select(_ => services.CreateAsyncScope()).ToList();
        // Blazor resolves every CircuitHandler in the circuit's own scope and calls each one.
        var handlers = scopes.Select(s => s.ServiceProvider.GetServices<CircuitHandler>().OfType<OpenCircuits.Tracker>().Single()).ToList();

        foreach (var handler in handlers) await handler.OnCircuitOpenedAsync(null!, default);
        await handlers[0].OnCircuitClosedAsync(null!, default);
        await handlers[1].OnCircuitClosedAsync(null!, default);

        Assert.Equal((1, 2), (circuits.Open, circuits.ClosedSinceTrim));
        circuits.Trimmed();
        Assert.Equal((1, 0), (circuits.Open, circuits.ClosedSinceTrim));
        foreach (var scope in scopes) await scope.DisposeAsync();
    }

    [Theory]
    [InlineData(1L << 20, 400L << 20, 200L << 20, 0, true)]   // quiet, 200 MB more than after the last trim
    [InlineData(200L << 20, 400L << 20, 200L << 20, 0, false)] // 200 MB allocated in the last interval: work is running
    [InlineData(1L << 20, 220L << 20, 200L << 20, 0, false)]  // quiet, but the heap grew by 20 MB only
    [InlineData(1L << 20, 220L << 20, 200L << 20, 50, true)]  // quiet, the heap grew little, but 50 pages closed: their garbage
    [InlineData(1L << 20, 220L << 20, 200L << 20, 2, false)]  // quiet, two pages closed: not worth a full collection
    [InlineData(200L << 20, 220L << 20, 200L << 20, 50, false)] // pages closed while work runs: later
    public void TheTrimmer_CollectsOnlyWhenTheNodeIsQuiet_AndHoldsClearlyMoreThanAfterItsLastTrim_OrPagesClosed(
        long allocated, long committed, long afterLastTrim, int circuitsClosed, bool trims) =>
        Assert.Equal(trims, IdleMemoryTrimmer.ShouldTrim(allocated, committed, afterLastTrim, circuitsClosed));
}
