using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Taskdeck.Console.Api;

/// <summary>One token bucket: <see cref="Burst"/> requests at once, refilled by <see cref="PerSecond"/> a second.</summary>
public sealed class RateLimitBucket
{
    public int Burst { get; set; }
    public int PerSecond { get; set; }
}

/// <summary>
/// <c>Taskdeck:RateLimits</c>: how fast one principal (its user name when signed in, else its address) may submit work
/// and start bulk acts. The defaults stay far above what a person or a CI job does, and below what buries a node.
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "Taskdeck:RateLimits";

    public bool Enabled { get; set; } = true;
    /// <summary><c>POST /api/tasks</c>, <c>POST /v1/dagrun</c>, <c>POST /api/worktasks</c>.</summary>
    public RateLimitBucket Submit { get; set; } = new() { Burst = 1000, PerSecond = 500 };
    /// <summary>DAG kill and restart, <c>/api/executions/reset</c> and <c>/api/executions/bulk</c>: each may touch a whole run.</summary>
    public RateLimitBucket Bulk { get; set; } = new() { Burst = 60, PerSecond = 10 };

    public static string Key(string name) => $"{Section}:{name}";
}

public sealed class ValidateRateLimitOptions : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions o)
    {
        var errors = new List<string>();
        foreach (var (bucket, key) in new[] { (o.Submit, nameof(o.Submit)), (o.Bulk, nameof(o.Bulk)) })
        {
            if (bucket.Burst < 1) errors.Add($"{RateLimitOptions.Key(key)}:Burst must be at least 1 (it is {bucket.Burst}).");
            if (bucket.PerSecond < 1) errors.Add($"{RateLimitOptions.Key(key)}:PerSecond must be at least 1 (it is {bucket.PerSecond}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// ASP.NET Core's rate limiter on the routes that create work: partitioned per principal, refused with a 429
/// ProblemDetails naming the setting and a <c>Retry-After</c>. A refused request never reaches its handler, so nothing
/// of it is stored.
/// </summary>
public static class RateLimits
{
    public const string SubmitPolicy = "taskdeck-submit";
    public const string BulkPolicy = "taskdeck-bulk";

    public static IServiceCollection AddTaskdeckRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RateLimitOptions>().Bind(configuration.GetSection(RateLimitOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RateLimitOptions>, ValidateRateLimitOptions>();
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(SubmitPolicy, http => Partition(http, nameof(RateLimitOptions.Submit), x => x.Submit));
            o.AddPolicy(BulkPolicy, http => Partition(http, nameof(RateLimitOptions.Bulk), x => x.Bulk));
            o.OnRejected = RejectAsync;
        });
        return services;
    }

    public static WebApplication UseTaskdeckRateLimits(this WebApplication app)
    {
        app.UseRateLimiter();
        return app;
    }

    public static TBuilder LimitedAsSubmit<TBuilder>(this TBuilder route) where TBuilder : IEndpointConventionBuilder =>
        route.RequireRateLimiting(SubmitPolicy);

    public static TBuilder LimitedAsBulk<TBuilder>(this TBuilder route) where TBuilder : IEndpointConventionBuilder =>
        route.RequireRateLimiting(BulkPolicy);

    /// <summary>The signed-in name when there is one (set by whatever authentication runs before), else the remote address.</summary>
    public static string PrincipalKey(HttpContext http) =>
        // Anonymous access is everyone without credentials: each address keeps its own bucket.
        Auth.Permissions.IsSignedIn(http.User) && http.User.Identity?.Name is { Length: > 0 } name
            ? "user:" + name
        : "address:" + (http.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    private static RateLimitPartition<string> Partition(HttpContext http, string which, Func<RateLimitOptions, RateLimitBucket> pick)
    {
        var options = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        if (!options.Enabled) return RateLimitPartition.GetNoLimiter("off");
        var bucket = pick(options);
        return RateLimitPartition.GetTokenBucketLimiter($"{which}|{PrincipalKey(http)}", _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = bucket.Burst,
            TokensPerPeriod = bucket.PerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken ct)
    {
        var http = context.HttpContext;
        var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) && after > TimeSpan.Zero ? after : TimeSpan.FromSeconds(1);
        var seconds = (int)Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds));
        var which = http.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == BulkPolicy
            ? nameof(RateLimitOptions.Bulk) : nameof(RateLimitOptions.Submit);
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await Problems.WriteAsync(http, StatusCodes.Status429TooManyRequests, "Too many requests",
            $"Too many requests from {PrincipalKey(http)}; try again in {seconds} s ({RateLimitOptions.Key(which)}).",
            ("limit", RateLimitOptions.Key(which)), ("retryAfterSeconds", seconds));
    }
}
