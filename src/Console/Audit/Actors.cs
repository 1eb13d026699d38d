using System.Security.Claims;
using Taskdeck.Core.Audit;

namespace Taskdeck.Console.Audit;

/// <summary>The one mapping from an ASP.NET principal to Core's <see cref="Actor"/>, for the API and the console alike.</summary>
public static class Actors
{
    /// <summary>The principal of this request, with its remote address.</summary>
    public static Actor Actor(this HttpContext http) => FromPrincipal(http.User, Address(http));

    public static string? Address(HttpContext? http) => http?.Connection.RemoteIpAddress?.ToString();

    public static Actor FromPrincipal(ClaimsPrincipal? user, string? address)
    {
        if (user?.Identity is not { IsAuthenticated: true } identity) return Core.Audit.Actor.Anonymous(address);
        var name = string.IsNullOrWhiteSpace(identity.Name) ? "(unnamed)" : identity.Name;
        return new Actor(name, KindOf(user, identity), address);
    }

    private static ActorKind KindOf(ClaimsPrincipal user, System.Security.Principal.IIdentity identity)
    {
        if (user.FindFirst(ActorKindClaim)?.Value is { } declared && Enum.TryParse<ActorKind>(declared, ignoreCase: true, out var kind)) return kind;
        return identity.AuthenticationType?.Contains("Token", StringComparison.OrdinalIgnoreCase) == true
            || identity.AuthenticationType?.Contains("Bearer", StringComparison.OrdinalIgnoreCase) == true
            ? ActorKind.ApiToken
            : ActorKind.User;
    }

    /// <summary>
    /// An authentication handler may say outright what kind of principal it signed in
    /// (<c>User</c>, <c>ApiToken</c>, <c>Anonymous</c>, <c>System</c>); otherwise a token scheme's name decides.
    /// </summary>
    public const string ActorKindClaim = "taskdeck:actor-kind";
}
