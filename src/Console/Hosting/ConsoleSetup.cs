using MudBlazor.Services;

namespace Taskdeck.Console.Hosting;

public static class ConsoleSetup
{
    public static IServiceCollection AddTaskdeckConsole(this IServiceCollection services)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        return services;
    }

    /// <summary>API errors become ProblemDetails; pages get the error page, never a stack trace.</summary>
    public static WebApplication UseTaskdeckErrors(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }
}
