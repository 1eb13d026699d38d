using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Auth;
using Taskdeck.Data.Access;

namespace Taskdeck.Console.Components.Account;

/// <summary>
/// The sign-in page, and the first administrator's form when opened through the one-time set-up link. Server-rendered
/// HTML forms that post to <see cref="SignInEndpoints"/>; messages come back as fixed codes, never as text from the URL.
/// </summary>
public partial class LoginPage
{
    [Inject] public required FirstRunSetup FirstRun { get; init; }
    [Inject] public required IOptions<AuthOptions> Options { get; init; }
    [Inject] public required AccessStoreOptions Store { get; init; }

    [SupplyParameterFromQuery(Name = "ReturnUrl")] public string? ReturnUrl { get; set; }
    [SupplyParameterFromQuery(Name = "setup")] public string? Setup { get; set; }
    [SupplyParameterFromQuery(Name = "error")] public string? Error { get; set; }
    [SupplyParameterFromQuery(Name = "signedOut")] public string? SignedOutFlag { get; set; }

    private OidcOptions Oidc => Options.Value.Oidc;
    private int MinLength => Store.PasswordMinLength;
    private bool SignedOut => SignedOutFlag == "1";

    /// <summary>The set-up form shows only for the valid, unused token; a stale link falls back to signing in, and says so.</summary>
    private bool SetupMode => Setup is not null && FirstRun.IsValid(Setup);

    private string? Message => (Error, Setup is not null && !SetupMode) switch
    {
        (_, true) or ("setup-used", _) => "This set-up link has already been used or has expired (each start prints a new one while no administrator exists). Sign in instead.",
        ("invalid", _) => "Wrong name or password.",
        ("locked", _) => $"Too many failed attempts: this account is locked for {Store.LockoutMinutes} minutes.",
        ("expired", _) => "The form had expired: please try again.",
        ("missing", _) => "Enter a name and a password.",
        ("mismatch", _) => "The two passwords differ.",
        ("password", _) => $"Choose a password of at least {Store.PasswordMinLength} characters.",
        ("name", _) => "That name cannot be used: letters, digits and - . _ @ + only.",
        _ => null,
    };
}
