using Taskdeck.Unit.Bulk;
using Taskdeck.Unit.Health;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// Hangfire.PostgreSql's knobs are checked as the node starts, whatever its storage: a poll interval, invisibility or lock
/// timeout that is not positive stops the start with the setting's own name, instead of Hangfire.PostgreSql's refusal of
/// its option when the job store is first built (or nothing, on a node that is not on PostgreSQL yet).
/// </summary>
[Collection(OwnHostCollection.Name)]
public sealed class HangfirePostgreSqlSettingsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-hfpg-" + Guid.NewGuid().ToString("N")[..8]);

    public HangfirePostgreSqlSettingsTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [Theory]
    [InlineData("QueuePollMilliseconds", "20", 50)]
    [InlineData("InvisibilitySeconds", "0", 1)]
    [InlineData("LockTimeoutSeconds", "-5", 1)]
    public void ASettingOutOfRange_StopsTheStart_NamingIt(string setting, string value, int least)
    {
        using var host = new FolderHost(_folder, new Dictionary<string, string?> { [$"Taskdeck:Hangfire:PostgreSql:{setting}"] = value });

        var refused = Assert.ThrowsAny<Exception>(() => host.Services);

        Assert.Contains($"Taskdeck:Hangfire:PostgreSql:{setting} must be at least {least} (it is {value})", refused.ToString());
    }
}
