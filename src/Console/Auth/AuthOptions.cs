using Microsoft.Extensions.Options;

namespace Taskdeck.Console.Auth;

/// <summary>Who may come in without credentials (<c>Taskdeck:Auth:Anonymous</c>).</summary>
public enum AnonymousAccess
{
    None,
    Viewer,
    Operator,
    Admin,
}

/// <summary><c>Taskdeck:Auth</c>: sign-in settings. The worker token stays where the work-task API reads it (<c>Taskdeck:Auth:WorkerToken</c>).</summary>
public sealed class AuthOptions
{
    public const string Section = "Taskdeck:Auth";

    /// <summary>
    /// The role given to a request that brings no credentials: <c>None</c> (the default: sign in) or <c>Viewer</c>,
    /// <c>Operator</c>, <c>Admin</c> for a trusted network whose clients cannot send a header. Logged as a warning at every start.
    /// </summary>
    public AnonymousAccess Anonymous { get; set; } = AnonymousAccess.None;

    /// <summary>When true, <c>/api/metrics</c> needs the read scope like the rest of the API (default: open to scrapers).</summary>
    public bool ProtectMetrics { get; set; }

    public OidcOptions Oidc { get; set; } = new();
}

/// <summary><c>Taskdeck:Auth:Oidc</c>: an OpenID Connect provider, used when Authority and ClientId are set.</summary>
public sealed class OidcOptions
{
    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }

    /// <summary>The claim whose values name a Taskdeck role (Viewer, Operator, Admin; the highest wins). Default <c>roles</c>.</summary>
    public string RoleClaim { get; set; } = "roles";

    /// <summary>The claim used as the person's name. Default <c>preferred_username</c>.</summary>
    public string NameClaim { get; set; } = "preferred_username";

    /// <summary>The button's text on the sign-in page.</summary>
    public string DisplayName { get; set; } = "Single sign-on";

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) && !string.IsNullOrWhiteSpace(ClientId);
}

/// <summary>Stops the start with a message naming the setting at fault.</summary>
public sealed class ValidateAuthOptions : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var oidc = options.Oidc;
        var anyOidc = !string.IsNullOrWhiteSpace(oidc.Authority) || !string.IsNullOrWhiteSpace(oidc.ClientId) || !string.IsNullOrWhiteSpace(oidc.ClientSecret);
        if (anyOidc && string.IsNullOrWhiteSpace(oidc.Authority)) return ValidateOptionsResult.Fail("Taskdeck:Auth:Oidc:Authority is required when any Taskdeck:Auth:Oidc setting is given.");
        if (anyOidc && string.IsNullOrWhiteSpace(oidc.ClientId)) return ValidateOptionsResult.Fail("Taskdeck:Auth:Oidc:ClientId is required when Taskdeck:Auth:Oidc:Authority is set.");
        if (anyOidc && !Uri.TryCreate(oidc.Authority, UriKind.Absolute, out _)) return ValidateOptionsResult.Fail("Taskdeck:Auth:Oidc:Authority must be an absolute URL.");
        if (anyOidc && string.IsNullOrWhiteSpace(oidc.RoleClaim)) return ValidateOptionsResult.Fail("Taskdeck:Auth:Oidc:RoleClaim must name a claim.");
        return ValidateOptionsResult.Success;
    }
}
