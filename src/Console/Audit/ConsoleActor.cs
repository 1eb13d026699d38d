using Microsoft.AspNetCore.Components.Authorization;
using Taskdeck.Core.Audit;

namespace Taskdeck.Console.Audit;

/// <summary>
/// Who is acting in this console circuit: the signed-in user from Blazor's authentication state, and the address
/// of the connection that opened the circuit (kept when the circuit's scope is made, while its request is at hand).
/// </summary>
public sealed class ConsoleActor(IServiceProvider services, IHttpContextAccessor http)
{
    private readonly string? _address = Actors.Address(http.HttpContext);

    public async Task<Actor> CurrentAsync()
    {
        var state = services.GetService<AuthenticationStateProvider>() is { } provider ? await provider.GetAuthenticationStateAsync() : null;
        return Actors.FromPrincipal(state?.User ?? http.HttpContext?.User, _address ?? Actors.Address(http.HttpContext));
    }
}
