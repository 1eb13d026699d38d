using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Taskdeck.Console.Api;

namespace Taskdeck.Console.CrossSite;

/// <summary>
/// <c>AllowedHosts</c> (the names this node is reachable by) checked on every request before anything else, as ASP.NET
/// Core's host filtering does, but answered with a ProblemDetails that names the setting. A page on a rebound DNS name
/// (evil.example → 127.0.0.1) reaches the node with <c>Host: evil.example</c> and gets 400 here.
/// It replaces the framework's host filtering startup filter, so there is one check with one answer.
/// </summary>
public sealed class HostCheck
{
    private readonly RequestDelegate _next;
    private volatile Allowed _allowed;

    public HostCheck(RequestDelegate next, IOptionsMonitor<HostFilteringOptions> options)
    {
        _next = next;
        _allowed = Allowed.From(options.CurrentValue);
        options.OnChange(changed => _allowed = Allowed.From(changed));
    }

    public Task InvokeAsync(HttpContext http)
    {
        var allowed = _allowed;
        if (allowed.AnyHost) return _next(http);
        var host = http.Request.Headers.Host.ToString();
        if (host.Length == 0 ? allowed.EmptyHosts : HostString.MatchesAny(host, allowed.Segments)) return _next(http);
        return Problems.WriteAsync(http, StatusCodes.Status400BadRequest, "Host not allowed",
            $"This node does not answer to the host name \"{http.Request.Host.Host}\": AllowedHosts lists {string.Join(";", allowed.Hosts)}. "
            + "Add the names clients use to reach it to AllowedHosts (appsettings.json or the AllowedHosts environment variable).",
            ("field", "Host"), ("setting", "AllowedHosts"));
    }

    /// <summary>AllowedHosts as parsed once per change of the setting, not per request.</summary>
    private sealed record Allowed(string[] Hosts, IList<StringSegment> Segments, bool AnyHost, bool EmptyHosts)
    {
        public static Allowed From(HostFilteringOptions options)
        {
            var hosts = options.AllowedHosts?.Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim()).ToArray() ?? [];
            return new(hosts, hosts.Select(h => new StringSegment(h)).ToList(), hosts.Length == 0 || hosts.Contains("*"), options.AllowEmptyHosts);
        }
    }

    /// <summary>Runs <see cref="HostCheck"/> first of all, in place of the framework's host filtering.</summary>
    internal sealed class StartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseMiddleware<HostCheck>();
            next(app);
        };
    }
}

public static class HostCheckSetup
{
    /// <summary>
    /// The web host registers its own host filtering as a startup filter (an internal type, found by name). Ours takes its
    /// place, first in line; if the framework ever renames it, both run, and a wrong host is still refused (as plain 400).
    /// </summary>
    public static IServiceCollection ReplaceFrameworkHostFiltering(this IServiceCollection services)
    {
        var index = services.ToList().FindIndex(d => d.ServiceType == typeof(IStartupFilter) && d.ImplementationType?.Name == "HostFilteringStartupFilter");
        var ours = ServiceDescriptor.Transient<IStartupFilter, HostCheck.StartupFilter>();
        if (index >= 0) services[index] = ours;
        else services.Insert(0, ours);
        return services;
    }
}
