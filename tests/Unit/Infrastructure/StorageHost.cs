using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Infrastructure;

/// <summary>
/// The storage layer on its own (EF contexts, stores, the write queue) on a real, migrated database, without the
/// engine's background services: for tests of what the stores write and read on each provider.
/// </summary>
public sealed class StorageHost : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly string _folder;

    private StorageHost(ServiceProvider provider, string folder)
    {
        _provider = provider;
        _folder = folder;
    }

    public T Get<T>() where T : notnull => _provider.GetRequiredService<T>();

    /// <param name="settings">The provider and connection string; a relative SQLite file lands in a fresh temp folder.</param>
    public static async Task<StorageHost> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-storage-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var provider = new ServiceCollection().AddLogging().AddTaskdeckData(configuration, folder).BuildServiceProvider();
        // The migrator is registered first; the other hosted services (checkpoints) are not started.
        await provider.GetServices<IHostedService>().First().StartAsync(CancellationToken.None);
        return new StorageHost(provider, folder);
    }

    public async ValueTask DisposeAsync()
    {
        await _provider.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
