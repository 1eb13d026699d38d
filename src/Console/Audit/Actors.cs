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
        var kind = KindOf(user, identity);
        var name = string.IsNullOrWhiteSpace(identity.Name) ? kind == ActorKind.Anonymous ? "anonymous" : "(unnamed)" : identity.Name;
        return new Actor(name, kind, address);
    }

    private static ActorKind KindOf(ClaimsPrincipal user, System.Security.Principal.IIdentity identity) =>
        user.FindFirst(KindClaim)?.Value switch
        {
            "person" => ActorKind.User,
            "token" or "worker" => ActorKind.ApiToken,
            "anonymous" => ActorKind.Anonymous,
            // No kind claim: a token scheme by its name, anything else signed in is a person.
            _ => identity.AuthenticationType?.Contains("Token", StringComparison.OrdinalIgnoreCase) == true ? ActorKind.ApiToken : ActorKind.User,
        };

    /// <summary>
    /// The claim each authentication handler adds to say what kind of caller it signed in (<c>person</c>, <c>token</c>,
    /// <c>worker</c>, <c>anonymous</c>): the auth feature's <c>Permissions.KindClaim</c>, by value.
    /// </summary>
    public const string KindClaim = "taskdeck:kind";
}
