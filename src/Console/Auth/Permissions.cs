using System.Security.Claims;
using Taskdeck.Console.Audit;
using Taskdeck.Core.Access;

namespace Taskdeck.Console.Auth;

/// <summary>The claims Taskdeck's authentication handlers put on a principal, and what they grant.</summary>
public static class Permissions
{
    /// <summary><c>person</c>, <c>token</c>, <c>worker</c> or <c>anonymous</c> (read by the audit trail's <see cref="Actors"/>).</summary>
    public const string KindClaim = Actors.KindClaim;

    /// <summary>One claim per scope an API token holds.</summary>
    public const string ScopeClaim = "taskdeck:scope";

    /// <summary>Where a person signed in: <c>local</c> (name and password) or <c>oidc</c>.</summary>
    public const string SourceClaim = "taskdeck:source";

    public const string Person = "person";
    public const string Token = "token";
    public const string Worker = "worker";
    public const string Anonymous = "anonymous";

    public static string? KindOf(ClaimsPrincipal user) => user.Identity?.IsAuthenticated == true ? user.FindFirst(KindClaim)?.Value : null;

    /// <summary>Whether someone presented credentials (a person, a token, a worker): anonymous access is not signed in.</summary>
    public static bool IsSignedIn(ClaimsPrincipal user) => user.Identity?.IsAuthenticated == true && KindOf(user) != Anonymous;

    /// <summary>Whether the principal holds a scope: a token by its scope claims, a person (or anonymous access) by its role.</summary>
    public static bool Has(ClaimsPrincipal user, string scope)
    {
        if (user.Identity?.IsAuthenticated != true) return false;
        if (user.HasClaim(ScopeClaim, scope)) return true;
        return user.FindAll(ClaimTypes.Role).Any(r => AccessRoles.ScopesOf(r.Value).Contains(scope));
    }

    /// <summary>The person's role (highest if several), for "signed in as NAME (Role)".</summary>
    public static string? RoleOf(ClaimsPrincipal user) =>
        AccessRoles.All.LastOrDefault(r => user.FindAll(ClaimTypes.Role).Any(c => string.Equals(c.Value, r, StringComparison.OrdinalIgnoreCase)));

    public static ClaimsPrincipal Principal(string scheme, string name, string kind, IEnumerable<Claim> more)
    {
        var identity = new ClaimsIdentity(scheme, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(new Claim(ClaimTypes.Name, name));
        identity.AddClaim(new Claim(KindClaim, kind));
        identity.AddClaims(more);
        return new ClaimsPrincipal(identity);
    }
}
