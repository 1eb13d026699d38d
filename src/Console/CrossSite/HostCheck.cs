using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Taskdeck.Console.CrossSite;

/// <summary>
/// <c>AllowedHosts</c> (the names this node is reachable by) checked on every request before anything else, as ASP.NET
/// Core's host filtering does, but answered with a ProblemDetails that names the setting. A page on a rebound DNS name
/// (evil.example → 127.0.0.1) reaches the node with <c>Host: evil.example</c> and gets 400 here.
/// It replaces the framework's host filtering startup filter, so there is one check with one answer.
/// </summary>
public sealed class HostCheck(RequestDelegate next, IOptionsMonitor<HostFilteringOptions> options)
{
    public Task InvokeAsync(HttpContext http)
    {
        var current = options.CurrentValue;
        var allowed = current.AllowedHosts?.Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim()).ToArray() ?? [];
        if (allowed.Length == 0 || allowed.Contains("*")) return next(http);
        var host = http.Request.Headers.Host.ToString();
        if (host.Length == 0 ? current.AllowEmptyHosts : HostString.MatchesAny(host, allowed.Select(h => new Microsoft.Extensions.Primitives.StringSegment(h)).ToList()))
            return next(http);
        return RefuseAsync(http, http.Request.Host, allowed);
    }

    private static async Task RefuseAsync(HttpContext http, HostString host, string[] allowed)
    {
        http.Response.StatusCode = StatusCodes.Status400BadRequest;
        var detail = $"This node does not answer to the host name \"{host.Host}\": AllowedHosts lists {string.Join(";", allowed)}. "
            + "Add the names clients use to reach it to AllowedHosts (appsettings.json or the AllowedHosts environment variable).";
        var problem = new ProblemDetails { Status = 400, Title = "Host not allowed", Detail = detail, Extensions = { ["field"] = "Host", ["setting"] = "AllowedHosts" } };
        var problems = http.RequestServices.GetService<IProblemDetailsService>();
        if (problems is null || !await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem }))
        {
            http.Response.ContentType = "text/plain; charset=utf-8";
            await http.Response.WriteAsync(detail);
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
