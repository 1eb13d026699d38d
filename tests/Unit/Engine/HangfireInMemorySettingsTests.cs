using Hangfire;
using Hangfire.InMemory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Hosting;
using Taskdeck.Core.Dispatch.HangfireQueue;
using Taskdeck.Unit.Bulk;
using Taskdeck.Unit.Health;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// The embedded default keeps a finished Hangfire job in memory for a minute, not Hangfire.InMemory's two hours: the job only
/// carried executions to a worker, and their history is Taskdeck's own.
/// </summary>
[Collection(OwnHostCollection.Name)]
public sealed class HangfireInMemorySettingsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-hfmem-" + Guid.NewGuid().ToString("N")[..8]);

    public HangfireInMemorySettingsTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [Theory]
    [InlineData(null, 1)]
    [InlineData("3", 3)]
    public void FinishedJobs_AreKeptInMemory_ForTheSetMinutes(string? setting, int minutes)
    {
        var settings = new Dictionary<string, string?>();
        if (setting is not null) settings["Taskdeck:Hangfire:InMemory:FinishedJobMinutes"] = setting;
        using var host = new FolderHost(_folder, settings);

        var wakeup = Assert.IsType<InProcessWakeupStorage>(host.Services.GetRequiredService<JobStorage>());
        var storage = Assert.IsType<InMemoryStorage>(wakeup.Inner);

        Assert.Equal(TimeSpan.FromMinutes(minutes), storage.Options.MaxExpirationTime);
    }

    /// <summary>A bound option validated on start (CONVENTIONS.md): the node refuses to start, the message names the setting.</summary>
    [Fact]
    public void NoMinutes_StopsTheStart_NamingTheSetting()
    {
        using var host = new FolderHost(_folder, new Dictionary<string, string?> { ["Taskdeck:Hangfire:InMemory:FinishedJobMinutes"] = "0" });

        var refused = Assert.ThrowsAny<Exception>(() => host.Services);

        var invalid = Assert.Single(Chain(refused).OfType<OptionsValidationException>());
        Assert.Equal(typeof(HangfireInMemorySettings), invalid.OptionsType);
        Assert.Contains("Taskdeck:Hangfire:InMemory:FinishedJobMinutes must be at least 1 (it is 0)", invalid.Message);
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? at = e; at is not null; at = at.InnerException) yield return at;
    }
}
