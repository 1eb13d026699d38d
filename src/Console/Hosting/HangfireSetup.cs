using Hangfire;
using Hangfire.Dashboard;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Taskdeck.Console.Auth;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Dispatch.HangfireQueue;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;

namespace Taskdeck.Console.Hosting;

/// <summary>Hangfire.PostgreSql's knobs (<c>Taskdeck:Hangfire:PostgreSql</c>), bound and checked at start; what each one bought is in BENCHMARKS.md.</summary>
public sealed class HangfirePostgreSqlSettings
{
    public const string Section = "Taskdeck:Hangfire:PostgreSql";

    /// <summary>How often an idle worker asks the queue table for a job (Hangfire.PostgreSql allows no less than 50 ms).</summary>
    public int QueuePollMilliseconds { get; set; } = 200;

    /// <summary>LISTEN/NOTIFY wakes idle workers when a job is enqueued instead of waiting for the next poll.</summary>
    public bool LongPolling { get; set; }

    /// <summary>
    /// A fetched job's fetch time is refreshed while it runs, so <see cref="InvisibilitySeconds"/> can be short. On by
    /// default: a job a node fetched and then lost — the node was killed before the job read Processing, or the database
    /// went away while its worker tried to put it back — stays invisible in the queue table until the timeout, and its
    /// executions with it (Taskdeck's reconciler takes them for waiting behind a live job).
    /// </summary>
    public bool SlidingInvisibility { get; set; } = true;

    /// <summary>
    /// After this long without its worker a fetched job is handed out again (Hangfire.PostgreSql's default: 30 min;
    /// ours, with the sliding refresh every fifth of it: 60 s).
    /// </summary>
    public int InvisibilitySeconds { get; set; } = 60;

    /// <summary>
    /// After this long a lock row is taken for abandoned (Hangfire.PostgreSql's default: 10 min). A node killed while it
    /// changed a job's state leaves that job's state lock behind, and no worker can start the job until it expires;
    /// Hangfire holds its locks for a state change or one cleanup batch, far shorter than this.
    /// </summary>
    public int LockTimeoutSeconds { get; set; } = 30;
}

/// <summary>Hangfire.InMemory's knobs (<c>Taskdeck:Hangfire:InMemory</c>), the embedded default's job store, bound and checked at start.</summary>
public sealed class HangfireInMemorySettings
{
    public const string Section = "Taskdeck:Hangfire:InMemory";

    /// <summary>
    /// How long a finished Hangfire job stays in the node's memory (Hangfire.InMemory keeps every entry up to 2 hours). A job
    /// only carries executions to a worker; what happened to each is Taskdeck's record in the database, so a finished job's
    /// copy in RAM (its arguments, parameters and three states) is of use only to the Hangfire dashboard's lists of recent
    /// jobs (the cap applies to every entry that expires: the counters behind that dashboard's history charts too). At the
    /// highest rates a job carries about one execution: a heap dump after a burst held 50,337 finished jobs (151,010 state
    /// records) in most of its 67 MB, and after the same 108,000-execution bench run the live heap with every page closed
    /// was 112 MB with ten minutes, 53 MB with one (BENCHMARKS.md, session 21). A steady rate holds rate × this many jobs.
    /// A failed job has no expiry and stays.
    /// </summary>
    public int FinishedJobMinutes { get; set; } = 1;
}

/// <summary>Each Hangfire setting in its range, checked at start for whichever storage this node uses: a wrong one names itself.</summary>
public sealed class ValidateHangfireSettings : IValidateOptions<HangfireInMemorySettings>, IValidateOptions<HangfirePostgreSqlSettings>
{
    public ValidateOptionsResult Validate(string? name, HangfireInMemorySettings o) =>
        Check([AtLeast(HangfireInMemorySettings.Section, nameof(o.FinishedJobMinutes), o.FinishedJobMinutes, 1)]);

    // Hangfire.PostgreSql refuses a poll interval under 50 ms, or an invisibility or lock timeout that is not positive, with
    // its own option's name and a stack trace at start; these name Taskdeck's setting instead.
    public ValidateOptionsResult Validate(string? name, HangfirePostgreSqlSettings o) => Check([
        AtLeast(HangfirePostgreSqlSettings.Section, nameof(o.QueuePollMilliseconds), o.QueuePollMilliseconds, 50),
        AtLeast(HangfirePostgreSqlSettings.Section, nameof(o.InvisibilitySeconds), o.InvisibilitySeconds, 1),
        AtLeast(HangfirePostgreSqlSettings.Section, nameof(o.LockTimeoutSeconds), o.LockTimeoutSeconds, 1),
    ]);

    private static string? AtLeast(string section, string setting, int value, int least) =>
        value < least ? $"{section}:{setting} must be at least {least} (it is {value})." : null;

    private static ValidateOptionsResult Check(IEnumerable<string?> errors) =>
        errors.OfType<string>().ToList() is { Count: > 0 } failed ? ValidateOptionsResult.Fail(failed) : ValidateOptionsResult.Success;
}

public static class HangfireSetup
{
    /// <summary>
    /// The chosen storage's own exceptions for "its lock could not be obtained in time": the job store is busy or out of
    /// reach, not broken, so the transport leaves the records to the reconciler (Core's <see cref="HangfireStorageFailures"/>).
    /// </summary>
    public static HangfireStorageFailures StorageFailures(StorageProvider provider) => provider switch
    {
        StorageProvider.PostgreSql => new([typeof(PostgreSqlDistributedLockException)]),
        StorageProvider.SqlServer => new([typeof(Hangfire.SqlServer.SqlServerDistributedLockException)]),
        _ => HangfireStorageFailures.None,
    };

    /// <summary>Hangfire storage follows the storage mode: in-memory beside SQLite (Core's reconcile makes it durable).</summary>
    public static IServiceCollection AddTaskdeckHangfire(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(sp => StorageFailures(sp.GetRequiredService<TaskdeckDatabase>().Provider));
        services.AddOptions<HangfireInMemorySettings>().Bind(configuration.GetSection(HangfireInMemorySettings.Section)).ValidateOnStart();
        services.AddOptions<HangfirePostgreSqlSettings>().Bind(configuration.GetSection(HangfirePostgreSqlSettings.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<HangfireInMemorySettings>, ValidateHangfireSettings>();
        services.AddSingleton<IValidateOptions<HangfirePostgreSqlSettings>, ValidateHangfireSettings>();
        services.AddHangfire((sp, config) =>
        {
            var database = sp.GetRequiredService<TaskdeckDatabase>();
            config.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings()
                .UseFilter(new CurrentJobFilter());
            switch (database.Provider)
            {
                case StorageProvider.Sqlite:
                    var memory = sp.GetRequiredService<IOptions<HangfireInMemorySettings>>().Value;
                    // Workers wait on one doorbell, not on each priority queue: Hangfire.InMemory leaves a wait node on
                    // every queue a worker waited on and got no job from (InProcessWakeupStorage says why).
                    config.UseStorage(new InProcessWakeupStorage(new InMemoryStorage(new InMemoryStorageOptions
                    {
                        IdType = InMemoryStorageIdType.Long,
                        MaxExpirationTime = TimeSpan.FromMinutes(memory.FinishedJobMinutes),
                    })));
                    break;
                case StorageProvider.PostgreSql:
                    var pg = sp.GetRequiredService<IOptions<HangfirePostgreSqlSettings>>().Value;
                    // Hangfire sends a few statement texts per job: prepared, not planned at each use (BENCHMARKS.md, session 24).
                    config.UsePostgreSqlStorage(o => o.UseNpgsqlConnection(database.PreparingConnectionString), new PostgreSqlStorageOptions
                    {
                        QueuePollInterval = TimeSpan.FromMilliseconds(pg.QueuePollMilliseconds),
                        EnableLongPolling = pg.LongPolling,
                        UseSlidingInvisibilityTimeout = pg.SlidingInvisibility,
                        InvisibilityTimeout = TimeSpan.FromSeconds(pg.InvisibilitySeconds),
                        DistributedLockTimeout = TimeSpan.FromSeconds(pg.LockTimeoutSeconds),
                        PrepareSchemaIfNecessary = true,
                    });
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

        return services;
    }

    /// <summary>
    /// The dashboard at /hangfire behind the console's sign-in: the read scope opens it read-only (Viewer, Operator, a
    /// read token), the admin scope with its actions (retry, delete, trigger). Hangfire answers a read-only caller's
    /// command with 401; <see cref="UseTaskdeckHangfireGuard"/> answers it first with a 403 that says why.
    /// </summary>
    public static IEndpointRouteBuilder MapTaskdeckHangfireDashboard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHangfireDashboardWithAuthorizationPolicy(Policies.Read, "/hangfire", new DashboardOptions
        {
            AppPath = "/",
            DashboardTitle = "Taskdeck · Hangfire",
            Authorization = [new ScopeFilter()],
            IsReadOnlyFunc = context => !Permissions.Has(context.GetHttpContext().User, Policies.Admin),
            DisplayStorageConnectionString = false,
        });
        return endpoints;
    }

    /// <summary>Refuses the dashboard's actions (every POST but its stats poll) to principals without the admin scope: 403, never Hangfire's 401.</summary>
    public static WebApplication UseTaskdeckHangfireGuard(this WebApplication app)
    {
        app.UseWhen(http => http.Request.Path.StartsWithSegments("/hangfire", out var rest) && !HttpMethods.IsGet(http.Request.Method)
                            && !HttpMethods.IsHead(http.Request.Method) && rest != "/stats" && http.User.Identity?.IsAuthenticated == true,
            guard => guard.Use(async (http, next) =>
            {
                if (!Permissions.Has(http.User, Policies.Admin))
                {
                    await AuthResponses.ForbiddenAsync(http, "The Hangfire dashboard is read-only for your role: its actions need the admin scope.");
                    return;
                }
                await next();
            }));
        return app;
    }

    /// <summary>The endpoint policy has already decided; this only keeps Hangfire from falling back to "local requests only".</summary>
    private sealed class ScopeFilter : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context) => Permissions.Has(context.GetHttpContext().User, Policies.Read);
    }
}
