using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Taskdeck.Console.Hosting;

/// <summary>
/// Blazor Server's circuit options, set for a console that a whole team keeps open: a disconnected page's circuit (its
/// whole component tree) is kept for 30 s, not 3 minutes, and at most 20 of them, not 100, so the memory of closed laptops
/// and dropped networks comes back within a minute; a JS call the browser never answers is given up after 30 s. A page
/// that reconnects later reloads: every console page rebuilds itself from the database. <c>Taskdeck:Console:Circuits</c>
/// overrides any of <see cref="CircuitOptions"/> (e.g. <c>DisconnectedCircuitRetentionPeriod</c> = <c>00:03:00</c>).
/// </summary>
public static class Footprint
{
    public const string Section = "Taskdeck:Console:Circuits";

    /// <summary>
    /// <c>Taskdeck:Console:Circuits:CompressWebSocket</c> (default false). Blazor compresses every render batch it sends
    /// (permessage-deflate) unless told not to; with 50 live pages open that was 8 % of the node's CPU (console-live, perf),
    /// spent to save bandwidth an operations console on its own network does not need. True turns it back on (slow links).
    /// </summary>
    public static bool CompressesCircuitSockets(IConfiguration configuration) => configuration.GetValue($"{Section}:CompressWebSocket", false);

    /// <summary>The circuit options, and <see cref="IdleMemoryTrimmer"/>: what keeps the node's footprint small and steady.</summary>
    public static IServiceCollection AddTaskdeckFootprint(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<OpenCircuits>();
        services.TryAddEnumerable(ServiceDescriptor.Scoped<CircuitHandler, OpenCircuits.Tracker>());
        services.AddHostedService<IdleMemoryTrimmer>();
        services.AddOptions<CircuitOptions>()
            .Configure(o =>
            {
                o.DisconnectedCircuitRetentionPeriod = TimeSpan.FromSeconds(30);
                o.DisconnectedCircuitMaxRetained = 20;
                o.JSInteropDefaultCallTimeout = TimeSpan.FromSeconds(30);
            })
            .Bind(configuration.GetSection(Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<CircuitOptions>, ValidateCircuitOptions>();
        return services;
    }
}

public sealed class ValidateCircuitOptions : IValidateOptions<CircuitOptions>
{
    public ValidateOptionsResult Validate(string? name, CircuitOptions o)
    {
        var errors = new List<string>();
        if (o.DisconnectedCircuitRetentionPeriod < TimeSpan.Zero)
            errors.Add($"{Footprint.Section}:{nameof(o.DisconnectedCircuitRetentionPeriod)} must not be negative (it is {o.DisconnectedCircuitRetentionPeriod}).");
        if (o.DisconnectedCircuitMaxRetained < 0)
            errors.Add($"{Footprint.Section}:{nameof(o.DisconnectedCircuitMaxRetained)} must not be negative (it is {o.DisconnectedCircuitMaxRetained}).");
        if (o.JSInteropDefaultCallTimeout <= TimeSpan.Zero)
            errors.Add($"{Footprint.Section}:{nameof(o.JSInteropDefaultCallTimeout)} must be more than zero (it is {o.JSInteropDefaultCallTimeout}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
