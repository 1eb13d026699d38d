using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Console.Live;
using Taskdeck.Core.Events;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Live;

/// <summary>
/// A shared live model on the app's data layer over a real SQLite file of the test's own. Rows are written straight into
/// the database, unseen by the model, and changes are announced on a bus of the test's own, so what a refresh shows is
/// what it read. The model is watched by one visible viewer; its updates are handed out in order.
/// </summary>
public abstract class LiveModelOnSqlite<T> : IAsyncLifetime where T : class
{
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-livemodel-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Channel<T> _updates = Channel.CreateUnbounded<T>();

    protected ExecutionEvents Events { get; } = new();
    protected ServiceProvider Services { get; private set; } = default!;
    protected IDbContextFactory<TaskdeckDbContext> Contexts => Services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>();

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Taskdeck"] = $"Data Source={Path.Combine(_folder, "t.db")}",
        }).Build();
        Services = new ServiceCollection().AddLogging().AddTaskdeckData(config, _folder).BuildServiceProvider();
        await using var db = await Contexts.CreateDbContextAsync();
        await db.Database.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await Services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>The model, loaded and watched by one visible viewer.</summary>
    protected async Task<TModel> WatchedAsync<TModel>(TModel model) where TModel : LiveModel<T>
    {
        await model.CurrentAsync();
        model.Add(new LiveViewer<T>(model, "test", null, u =>
        {
            _updates.Writer.TryWrite(u.Snapshot);
            return Task.CompletedTask;
        }, _ => ValueTask.CompletedTask));
        return model;
    }

    /// <summary>The next update the viewer is handed.</summary>
    protected Task<T> NextUpdateAsync() => _updates.Reader.ReadAsync().AsTask().WaitAsync(Deadline);

    /// <summary>Announces a change; the refresh it causes.</summary>
    protected async Task<T> RefreshedAsync(ExecutionEvent change)
    {
        Events.Publish(change);
        return await NextUpdateAsync();
    }
}
