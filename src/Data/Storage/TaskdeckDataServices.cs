using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Taskdeck.Core;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Access;
using Taskdeck.Data.Dags;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.Executions;
using Taskdeck.Data.WorkTasks;

namespace Taskdeck.Data.Storage;

public static class TaskdeckDataServices
{
    public const string ConnectionName = "Taskdeck";
    public const string DefaultSqliteConnection = "Data Source=data/taskdeck.db";

    /// <summary>EF Core on the configured provider, the engine's store, and migrations applied at start.</summary>
    public static IServiceCollection AddTaskdeckData(this IServiceCollection services, IConfiguration configuration, string contentRoot)
    {
        var database = ResolveDatabase(configuration, contentRoot);
        services.AddSingleton(database);
        switch (database.Provider)
        {
            case StorageProvider.Sqlite:
                services.AddPooledDbContextFactory<SqliteTaskdeckDbContext>(o => o.UseSqlite(database.ConnectionString).AddInterceptors(NulFreeParameters.Instance));
                services.AddSingleton<IDbContextFactory<TaskdeckDbContext>, Narrowed<SqliteTaskdeckDbContext>>();
                break;
            case StorageProvider.PostgreSql:
                services.AddPooledDbContextFactory<PostgreSqlTaskdeckDbContext>(o => o.UseNpgsql(database.ConnectionString).AddInterceptors(NulFreeParameters.Instance));
                services.AddSingleton<IDbContextFactory<TaskdeckDbContext>, Narrowed<PostgreSqlTaskdeckDbContext>>();
                break;
            case StorageProvider.SqlServer:
                services.AddPooledDbContextFactory<SqlServerTaskdeckDbContext>(o => o.UseSqlServer(database.ConnectionString).AddInterceptors(NulFreeParameters.Instance));
                services.AddSingleton<IDbContextFactory<TaskdeckDbContext>, Narrowed<SqlServerTaskdeckDbContext>>();
                break;
        }
        services.AddSingleton<WriteGate>();
        services.AddSingleton<WriteQueue>();
        services.AddSingleton<StorageMemory>();
        if (database.Provider == StorageProvider.Sqlite) services.AddHostedService<WalCheckpointer>();
        if (database.Provider == StorageProvider.PostgreSql)
        {
            // Other nodes' commits wake the change follower at once (LISTEN/NOTIFY); elsewhere it polls.
            services.TryAddSingleton<NodeIdentity>();
            services.TryAddSingleton(TimeProvider.System);
            services.TryAddSingleton<Core.Events.ExecutionEvents>();
            services.AddSingleton<Changes.PostgreSqlChangeSignal>();
            services.AddSingleton<Core.Events.IChangeSignal>(sp => sp.GetRequiredService<Changes.PostgreSqlChangeSignal>());
            services.AddHostedService(sp => sp.GetRequiredService<Changes.PostgreSqlChangeSignal>());
            // A node alone on the database notifies nobody (its writers' commits skip the notify-queue lock).
            services.AddSingleton<Changes.WakeOtherNodes>();
            services.AddHostedService<Changes.LoneNodeWatch>();
            // Progress and spawned workers' starts, which have no row in the change feed, travel by notify.
            services.AddSingleton<Changes.PostgreSqlEventBroadcast>();
            services.AddSingleton<Core.Events.IEventBroadcast>(sp => sp.GetRequiredService<Changes.PostgreSqlEventBroadcast>());
            services.AddHostedService(sp => sp.GetRequiredService<Changes.PostgreSqlEventBroadcast>());
        }
        // One store, seen by each caller only through the part it uses.
        services.AddSingleton<KeptReaders>();
        services.AddSingleton<ExecutionStore>();
        services.AddSingleton<IExecutionTransitionStore>(sp => sp.GetRequiredService<ExecutionStore>());
        services.AddSingleton<IExecutionReader>(sp => sp.GetRequiredService<ExecutionStore>());
        services.AddSingleton<IExecutionDeleter>(sp => sp.GetRequiredService<ExecutionStore>());
        services.AddSingleton<Core.Executors.IAttemptOutputStore>(sp => sp.GetRequiredService<ExecutionStore>());
        services.AddSingleton<Core.Dispatch.IDispatchStore>(sp => sp.GetRequiredService<ExecutionStore>());
        services.AddSingleton<INodeLeaseStore>(sp => sp.GetRequiredService<ExecutionStore>());
        services.AddSingleton<Core.Events.IChangeFeed>(sp => sp.GetRequiredService<ExecutionStore>());
        services.AddSingleton<ExecutionQueries>();
        services.AddSingleton<IDagStore, DagStore>();
        services.AddSingleton<Core.Bulk.IBulkActionStore, Bulk.BulkActionStore>();
        services.AddSingleton<DagQueries>();
        services.AddSingleton<IWorkTaskStore, WorkTaskStore>();
        services.AddSingleton<WorkTaskQueries>();
        services.AddSingleton<Dashboard.DashboardQueries>();
        services.AddSingleton<Workers.WorkerQueries>();
        services.AddSingleton<Core.Audit.IAuditStore, Audit.AuditStore>();
        services.AddSingleton<Audit.AuditQueries>();
        services.AddSingleton<Core.Schedules.IScheduleStore, Schedules.ScheduleStore>();
        services.AddSingleton<Schedules.ScheduleQueries>();
        services.AddTaskdeckAccessStore(configuration, database);
        // Registered before the engine's hosted services so the schema exists when they start.
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService, DatabaseMigrator>());
        return services;
    }

    /// <summary>Applies every migration (engine and access contexts) now, as the start-up migrator does: for the command line.</summary>
    public static Task MigrateAsync(IServiceProvider services, CancellationToken ct = default) =>
        services.GetServices<IHostedService>().OfType<DatabaseMigrator>().First().StartAsync(ct);

    public static TaskdeckDatabase ResolveDatabase(IConfiguration configuration, string contentRoot)
    {
        var provider = configuration.GetValue($"{TaskdeckOptions.Section}:Storage:Provider", StorageProvider.Sqlite);
        var connection = configuration.GetConnectionString(ConnectionName);
        if (provider == StorageProvider.Sqlite)
        {
            var builder = new SqliteConnectionStringBuilder(string.IsNullOrWhiteSpace(connection) ? DefaultSqliteConnection : connection);
            if (builder.DataSource != ":memory:" && !Path.IsPathRooted(builder.DataSource))
                builder.DataSource = Path.GetFullPath(Path.Combine(contentRoot, builder.DataSource));
            Directory.CreateDirectory(Path.GetDirectoryName(builder.DataSource)!);
            builder.Pooling = true;
            connection = builder.ToString();
        }
        else if (string.IsNullOrWhiteSpace(connection))
        {
            throw new InvalidOperationException($"ConnectionStrings:{ConnectionName} is required when Taskdeck:Storage:Provider is {provider}.");
        }
        // Taskdeck:Storage:Writers: group-commit writers committing in parallel on PostgreSQL and SQL Server; SQLite has exactly one.
        var writers = configuration.GetValue<int?>($"{TaskdeckOptions.Section}:Storage:Writers");
        if (writers is { } w && (w < 1 || w > 64))
            throw new InvalidOperationException($"{TaskdeckOptions.Section}:Storage:Writers must be between 1 and 64 (is {w}).");
        if (writers is > 1 && provider == StorageProvider.Sqlite)
            throw new InvalidOperationException($"{TaskdeckOptions.Section}:Storage:Writers must be 1 on SQLite, which has one writer at a time (is {writers}).");
        return new TaskdeckDatabase(provider, connection!, writers: writers);
    }

    private sealed class Narrowed<TContext>(IDbContextFactory<TContext> inner) : IDbContextFactory<TaskdeckDbContext> where TContext : TaskdeckDbContext
    {
        public TaskdeckDbContext CreateDbContext() => inner.CreateDbContext();
        public async Task<TaskdeckDbContext> CreateDbContextAsync(CancellationToken ct = default) => await inner.CreateDbContextAsync(ct);
    }
}

/// <summary>Applies the provider's migrations before anything else starts.</summary>
internal sealed class DatabaseMigrator(IDbContextFactory<TaskdeckDbContext> contexts, TaskdeckDatabase database, IServiceProvider services, ILogger<DatabaseMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (database.Provider == StorageProvider.Sqlite)
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        await db.Database.MigrateAsync(cancellationToken);
        await AccessDataServices.MigrateAccessAsync(services, cancellationToken);
        logger.LogInformation("Database ready ({Provider})", database.Provider);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

// Design-time factories: `dotnet ef migrations add X --context <Provider>TaskdeckDbContext --output-dir Migrations/<Provider>`.
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteTaskdeckDbContext>
{
    public SqliteTaskdeckDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteTaskdeckDbContext>().UseSqlite("Data Source=design.db").Options);
}

internal sealed class PostgreSqlDesignTimeFactory : IDesignTimeDbContextFactory<PostgreSqlTaskdeckDbContext>
{
    public PostgreSqlTaskdeckDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgreSqlTaskdeckDbContext>().UseNpgsql("Host=localhost;Database=taskdeck").Options);
}

internal sealed class SqlServerDesignTimeFactory : IDesignTimeDbContextFactory<SqlServerTaskdeckDbContext>
{
    public SqlServerTaskdeckDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqlServerTaskdeckDbContext>().UseSqlServer("Server=localhost;Database=taskdeck;TrustServerCertificate=true").Options);
}
