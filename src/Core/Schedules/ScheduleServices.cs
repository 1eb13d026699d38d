using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Taskdeck.Core.Schedules;

public static class ScheduleServices
{
    /// <summary>Schedules: the service, the firing loop on every node, and the schedules declared in configuration.</summary>
    /// <summary>
    /// The clock schedules read (keyed): the app's own <see cref="TimeProvider"/> unless replaced. Tests move this one
    /// alone, so that days of fake time pass for the slots without every engine timer ticking through them.
    /// </summary>
    public const string ClockKey = "schedules";

    public static IServiceCollection AddTaskdeckSchedules(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddKeyedSingleton<TimeProvider>(ClockKey, (sp, _) => sp.GetRequiredService<TimeProvider>());
        services.AddSingleton<ScheduleEvents>();
        services.AddSingleton<ScheduleFirer>();
        services.AddSingleton<ScheduleService>();
        services.AddSingleton<ScheduleRunner>();
        services.AddSingleton(new ConfiguredSchedules(configuration));
        // Declared schedules are written before the loop's first pass.
        services.AddHostedService<ConfiguredSchedulesWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<ScheduleRunner>());
        return services;
    }
}
