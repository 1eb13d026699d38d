using MudBlazor;
using MudBlazor.Services;
using Taskdeck.Console.Components.Shared;

namespace Taskdeck.Console.Hosting;

public static class ConsoleSetup
{
    public static IServiceCollection AddTaskdeckConsole(this IServiceCollection services)
    {
        // Never send exception details to the browser: the circuit reports "an error occurred", the log has the rest.
        services.AddRazorComponents().AddInteractiveServerComponents(o => o.DetailedErrors = false);
        services.AddLogging(logging => logging.AddCircuitFailureLog());
        services.AddMudServices(o =>
        {
            o.SnackbarConfiguration.PositionClass = Defaults.Classes.Position.BottomRight;
            o.SnackbarConfiguration.VisibleStateDuration = 6000;
            o.SnackbarConfiguration.PreventDuplicates = false;
        });
        // Shared live read models: one per distinct query, refreshed once per interval for every page that shows it.
        services.AddOptions<Live.LiveCadence>().BindConfiguration("Taskdeck:Console:Live")
            .Validate(c => !c.Validate().Any(), "Taskdeck:Console:Live: MinInterval must be positive, MaxInterval at least MinInterval, CostFactor at least 1, BusyRate positive.")
            .ValidateOnStart();
        services.AddSingleton<Live.LiveModels>();
        services.AddScoped<Live.PageVisibility>();
        services.AddScoped<ClientTime>();
        services.AddHttpContextAccessor();
        services.AddScoped<Audit.ConsoleActor>();
        services.AddSingleton<Components.Workers.WorkerLeases>();
        services.AddHostedService(sp => sp.GetRequiredService<Components.Workers.WorkerLeases>());
        services.AddHostedService<MetricSampler>();
        services.AddHostedService<DemoWorkload>();
        return services;
    }

    /// <summary>API errors become ProblemDetails; pages get the error page, never a stack trace.</summary>
    public static WebApplication UseTaskdeckErrors(this WebApplication app)
    {
        // API callers get a ProblemDetails body (ApiExceptionHandler names the field); people get the error page.
        app.UseWhen(http => Api.ApiPaths.IsMachine(http.Request.Path), api => api.UseExceptionHandler());
        app.UseWhen(http => !Api.ApiPaths.IsMachine(http.Request.Path), pages => pages.UseExceptionHandler("/Error", createScopeForErrors: true));
        app.UseStatusCodePages();
        return app;
    }
}
