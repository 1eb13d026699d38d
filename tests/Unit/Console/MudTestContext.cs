using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core.Events;

namespace Taskdeck.Unit.Console;

/// <summary>bunit with MudBlazor's services in loose JS interop, plus the console's own shared services.</summary>
public abstract class MudTestContext : BunitContext, IAsyncLifetime
{
    protected MudTestContext()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        Services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        Services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        Services.AddSingleton<ExecutionEvents>();
        // The console's shared live models (a component's stores are resolved from the test's own services when it watches).
        Services.AddOptions<LiveCadence>();
        Services.AddSingleton(TimeProvider.System);
        // Its stores come through bunit's provider, so a test's fallback (the app's services) supplies them.
        Services.AddSingleton(sp => new LiveModels(sp.GetRequiredService<ExecutionEvents>(), Services, sp.GetRequiredService<IOptions<LiveCadence>>(),
            TimeProvider.System, NullLoggerFactory.Instance));
        Services.AddScoped<PageVisibility>();
        Services.AddScoped<ClientTime>();
        // Components hide actions behind AuthorizeView: everyone may do everything here unless a test signs in a role.
        var authorization = this.AddAuthorization();
        authorization.SetAuthorized("tester");
        authorization.SetPolicies(Taskdeck.Console.Auth.Policies.All.ToArray());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor registers services that are only IAsyncDisposable.
    async Task IAsyncLifetime.DisposeAsync() => await base.DisposeAsync();
}
