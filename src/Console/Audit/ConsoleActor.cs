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

    public async Task<Actor> CurrentAsync() => Actors.FromPrincipal(await PrincipalAsync(), _address ?? Actors.Address(http.HttpContext));

    /// <summary>
    /// The actor, when the signed-in principal holds every one of <paramref name="scopes"/>; otherwise throws
    /// <see cref="UnauthorizedAccessException"/> with a message a page can show. The console calls Core's services
    /// directly, so this is its server-side check (hiding a button is not one).
    /// </summary>
    public async Task<Actor> ForAsync(params string[] scopes)
    {
        var user = await PrincipalAsync();
        if (scopes.FirstOrDefault(scope => user is null || !Auth.Permissions.Has(user, scope)) is { } missing)
        {
            var role = user is null ? null : Auth.Permissions.RoleOf(user);
            throw new UnauthorizedAccessException($"Not allowed: this needs the '{missing}' permission, which {(role is null ? "you do not have" : $"the {role} role does not include")}.");
        }
        return Actors.FromPrincipal(user, _address ?? Actors.Address(http.HttpContext));
    }

    /// <summary>Whether the signed-in principal holds <paramref name="scope"/>.</summary>
    public async Task<bool> HasAsync(string scope) => await PrincipalAsync() is { } user && Auth.Permissions.Has(user, scope);

    private async Task<System.Security.Claims.ClaimsPrincipal?> PrincipalAsync()
    {
        var state = services.GetService<AuthenticationStateProvider>() is { } provider ? await provider.GetAuthenticationStateAsync() : null;
        return state?.User ?? http.HttpContext?.User;
    }
}
