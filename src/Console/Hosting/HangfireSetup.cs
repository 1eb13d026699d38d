using Hangfire;
using Hangfire.Dashboard;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;

namespace Taskdeck.Console.Hosting;

public static class HangfireSetup
{
    public const string DashboardPolicy = "HangfireDashboard";

    /// <summary>Hangfire storage follows the storage mode: in-memory beside SQLite (Core's reconcile makes it durable).</summary>
    public static IServiceCollection AddTaskdeckHangfire(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddHangfire((sp, config) =>
        {
            var database = sp.GetRequiredService<TaskdeckDatabase>();
            config.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings();
            switch (database.Provider)
            {
                case StorageProvider.Sqlite:
                    config.UseInMemoryStorage(new InMemoryStorageOptions { IdType = InMemoryStorageIdType.Long });
                    break;
                case StorageProvider.PostgreSql:
                    config.UsePostgreSqlStorage(o => o.UseNpgsqlConnection(database.ConnectionString),
                        new PostgreSqlStorageOptions { QueuePollInterval = TimeSpan.FromMilliseconds(200), PrepareSchemaIfNecessary = true });
                    break;
                case StorageProvider.SqlServer:
                    config.UseSqlServerStorage(database.ConnectionString,
                        new Hangfire.SqlServer.SqlServerStorageOptions { QueuePollInterval = TimeSpan.Zero, PrepareSchemaIfNecessary = true });
                    break;
            }
        });

        var node = configuration.GetSection($"{TaskdeckOptions.Section}:Node").Get<NodeOptions>() ?? new NodeOptions();
        if (node.RunsWorkers)
        {
            services.AddHangfireServer((sp, options) =>
            {
                var n = sp.GetRequiredService<IOptions<TaskdeckOptions>>().Value.Node;
                options.ServerName = sp.GetRequiredService<NodeIdentity>().Id;
                options.Queues = ExecutionDispatcher.Queues;
                options.WorkerCount = n.WorkerCount;
                // Retry back-off and delayed starts are Hangfire scheduled jobs: look for due ones every second.
                options.SchedulePollingInterval = TimeSpan.FromSeconds(1);
                // Long enough for a stopping command's group to get TERM, its kill grace, then KILL (CommandRunner).
                options.ShutdownTimeout = TimeSpan.FromSeconds(5 + sp.GetRequiredService<IOptions<TaskdeckOptions>>().Value.Commands.KillGraceSeconds);
            });
        }

        services.AddAuthorizationBuilder().AddPolicy(DashboardPolicy, policy => policy.RequireAssertion(context =>
        {
            var http = context.Resource as HttpContext;
            var allowRemote = configuration.GetValue("Taskdeck:Dashboard:AllowRemote", false);
            return allowRemote || http is null || IsLocal(http);
        }));
        return services;
    }

    /// <summary>The dashboard at /hangfire, behind <see cref="DashboardPolicy"/> (local requests unless configured).</summary>
    public static IEndpointRouteBuilder MapTaskdeckHangfireDashboard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHangfireDashboardWithAuthorizationPolicy(DashboardPolicy, "/hangfire", new DashboardOptions
        {
            AppPath = "/",
            DashboardTitle = "Taskdeck · Hangfire",
            Authorization = [new AllowAllFilter()], // the endpoint policy above decides
            DisplayStorageConnectionString = false,
        });
        return endpoints;
    }

    private static bool IsLocal(HttpContext http)
    {
        var remote = http.Connection.RemoteIpAddress;
        // TestServer has no remote address: the request never left the process.
        return remote is null || System.Net.IPAddress.IsLoopback(remote) || remote.Equals(http.Connection.LocalIpAddress);
    }

    private sealed class AllowAllFilter : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context) => true;
    }
}
