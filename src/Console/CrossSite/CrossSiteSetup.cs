using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;

namespace Taskdeck.Console.CrossSite;

public static class CrossSiteSetup
{
    public static IServiceCollection AddTaskdeckCrossSite(this IServiceCollection services)
    {
        services.ReplaceFrameworkHostFiltering();
        services.AddOptions<CrossSiteOptions>().BindConfiguration(CrossSiteOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CrossSiteOptions>, ValidateCrossSiteOptions>();
        services.AddSingleton<Origins>();
        services.AddAntiforgery();
        services.Configure<AntiforgeryOptions>(o =>
        {
            o.HeaderName = CrossSiteGuard.AntiforgeryHeader;
            // SecurityHeaders sends X-Frame-Options: DENY on every response; antiforgery would add SAMEORIGIN.
            o.SuppressXFrameOptionsHeader = true;
        });
        return services;
    }

    /// <summary>The cross-site checks in front of the API and <c>/ws/tasks</c> (<see cref="CrossSiteGuard"/>).</summary>
    public static WebApplication UseTaskdeckCrossSiteGuard(this WebApplication app)
    {
        app.Use(CrossSiteGuard.InvokeAsync);
        return app;
    }
}
