using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Audit;

public static class AuditServices
{
    /// <summary>The audit trail, its validated options and the background retention. Storage (<see cref="IAuditStore"/>) comes from Data.</summary>
    public static IServiceCollection AddTaskdeckAudit(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AuditOptions>().Bind(configuration.GetSection(AuditOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuditOptions>, ValidateAuditOptions>();
        services.AddSingleton<IAuditTrail, AuditTrail>();
        services.AddSingleton<AuditRetention>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditRetention>());
        return services;
    }
}
