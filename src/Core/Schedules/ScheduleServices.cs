using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Taskdeck.Core.Schedules;

public static class ScheduleServices
{
    /// <summary>Schedules: the service, the firing loop on every node, and the schedules declared in configuration.</summary>
    public static IServiceCollection AddTaskdeckSchedules(this IServiceCollection services, IConfiguration configuration)
    {
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
