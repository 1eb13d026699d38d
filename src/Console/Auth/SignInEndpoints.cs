using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Taskdeck.Console.Audit;
using Taskdeck.Core.Access;
using Taskdeck.Core.Audit;
using Taskdeck.Data.Access;

namespace Taskdeck.Console.Auth;

/// <summary>
/// The sign-in page's form posts (plain HTML forms with an antiforgery token, so they work without a Blazor circuit):
/// <c>POST /login</c>, <c>POST /login/setup</c> (the first administrator, through the one-time link), <c>POST /logout</c>,
/// and <c>GET /login/oidc</c> when an identity provider is configured. Each ends in a redirect.
/// </summary>
public static class SignInEndpoints
{
    public static IEndpointRouteBuilder MapTaskdeckSignIn(this IEndpointRouteBuilder endpoints)
    {
        // Antiforgery is checked by hand (Forms.ValidAsync) so that a stale form sends the person back to a fresh one
        // instead of an error page.
        var group = endpoints.MapGroup("").AllowAnonymous().ExcludeFromDescription().DisableAntiforgery();
        group.MapPost(AuthResponses.LoginPath, SignInAsync);
        group.MapPost(AuthResponses.LoginPath + "/setup", SetUpAsync);
        group.MapPost("/logout", SignOutAsync);
        group.MapGet(AuthResponses.LoginPath + "/oidc", (string? returnUrl) =>
            TypedResults.Challenge(new AuthenticationProperties { RedirectUri = LocalOrHome(returnUrl) }, [AuthSchemes.Oidc]));
        return endpoints;
    }

    public sealed record SignInForm
    {
        [FromForm(Name = "username")] public string? UserName { get; init; }
        [FromForm(Name = "password")] public string? Password { get; init; }
        [FromForm(Name = "ReturnUrl")] public string? ReturnUrl { get; init; }
    }

    public sealed record SetUpForm
    {
        [FromForm(Name = "setup")] public string? Setup { get; init; }
        [FromForm(Name = "username")] public string? UserName { get; init; }
        [FromForm(Name = "password")] public string? Password { get; init; }
        [FromForm(Name = "confirm")] public string? Confirm { get; init; }
    }

    public static async Task<IResult> SignInAsync([FromForm] SignInForm form, SignInManager<TaskdeckUser> signIn, IAuditTrail audit, IAntiforgery antiforgery, HttpContext http)
    {
        var name = (form.UserName ?? "").Trim();
        var back = LocalOrHome(form.ReturnUrl);
        if (!await antiforgery.IsRequestValidAsync(http)) return Back("expired", back);
        if (name.Length == 0 || string.IsNullOrEmpty(form.Password)) return Back("missing", back);
        var result = await signIn.PasswordSignInAsync(name, form.Password, isPersistent: false, lockoutOnFailure: true);
        var actor = Core.Audit.Actor.User(name, Actors.Address(http));
        if (result.Succeeded)
        {
            await audit.RecordAsync(new AuditRecord(actor, AuditActions.SignIn, AuditOutcome.Applied) { RecordType = AuditRecordTypes.User, RecordIds = [name], Count = 1 });
            return TypedResults.LocalRedirect(back);
        }
        var reason = result.IsLockedOut ? "locked out after repeated failures" : result.IsNotAllowed ? "not allowed" : "wrong name or password";
        await audit.RecordAsync(new AuditRecord(actor, AuditActions.SignIn, AuditOutcome.Refused) { RecordType = AuditRecordTypes.User, RecordIds = [name], Reason = reason });
        return Back(result.IsLockedOut ? "locked" : "invalid", back);
    }

    public static async Task<IResult> SetUpAsync([FromForm] SetUpForm form, FirstRunSetup setup, IUserAdmin users, UserManager<TaskdeckUser> userManager,
        SignInManager<TaskdeckUser> signIn, IAuditTrail audit, IAntiforgery antiforgery, HttpContext http)
    {
        if (!setup.IsValid(form.Setup)) return TypedResults.LocalRedirect($"{AuthResponses.LoginPath}?error=setup-used");
        var name = (form.UserName ?? "").Trim();
        string Again(string error) => $"{AuthResponses.LoginPath}?setup={Uri.EscapeDataString(form.Setup!)}&error={error}";
        if (!await antiforgery.IsRequestValidAsync(http)) return TypedResults.LocalRedirect(Again("expired"));
        if (name.Length == 0 || string.IsNullOrEmpty(form.Password)) return TypedResults.LocalRedirect(Again("missing"));
        if (form.Password != form.Confirm) return TypedResults.LocalRedirect(Again("mismatch"));

        await Gate.WaitAsync(http.RequestAborted);
        try
        {
            // Checked again under the gate: two tabs posting the same link create one administrator.
            if (!setup.IsValid(form.Setup)) return TypedResults.LocalRedirect($"{AuthResponses.LoginPath}?error=setup-used");
            if (await users.AnyAdminAsync(http.RequestAborted))
            {
                setup.Withdraw();
                return TypedResults.LocalRedirect($"{AuthResponses.LoginPath}?error=setup-used");
            }
            var actor = Core.Audit.Actor.User(name, Actors.Address(http));
            try
            {
                await users.AddAsync(name, form.Password, AccessRoles.Admin, actor, http.RequestAborted);
            }
            catch (AccessRequestException e)
            {
                return TypedResults.LocalRedirect(Again(e.Field == "password" ? "password" : "name"));
            }
            setup.Withdraw();
            await audit.RecordAsync(new AuditRecord(actor, AuditActions.SetUp, AuditOutcome.Applied)
            {
                RecordType = AuditRecordTypes.User, RecordIds = [name], Count = 1, Reason = "first administrator, through the one-time set-up link",
            });
            await signIn.SignInAsync((await userManager.FindByNameAsync(name))!, isPersistent: false);
            await audit.RecordAsync(new AuditRecord(actor, AuditActions.SignIn, AuditOutcome.Applied) { RecordType = AuditRecordTypes.User, RecordIds = [name], Count = 1 });
            return TypedResults.LocalRedirect("/");
        }
        finally
        {
            Gate.Release();
        }
    }

    public static async Task<IResult> SignOutAsync(HttpContext http, IAuditTrail audit, IAntiforgery antiforgery)
    {
        // A cross-site page must not be able to sign people out; a stale form just lands on the sign-in page.
        if (await antiforgery.IsRequestValidAsync(http) && http.User.Identity?.IsAuthenticated == true && Permissions.KindOf(http.User) == Permissions.Person)
        {
            await http.SignOutAsync(AuthSchemes.Cookie);
            await audit.RecordAsync(new AuditRecord(http.Actor(), AuditActions.SignOut, AuditOutcome.Applied) { RecordType = AuditRecordTypes.User, RecordIds = [http.User.Identity.Name ?? ""], Count = 1 });
        }
        return TypedResults.LocalRedirect($"{AuthResponses.LoginPath}?signedOut=1");
    }

    private static readonly SemaphoreSlim Gate = new(1, 1);

    private static IResult Back(string error, string returnUrl) =>
        TypedResults.LocalRedirect($"{AuthResponses.LoginPath}?error={error}&ReturnUrl={Uri.EscapeDataString(returnUrl)}");

    /// <summary>Only a path on this site: an open redirect to another host would make the sign-in page a phishing aid.</summary>
    public static string LocalOrHome(string? url) =>
        !string.IsNullOrEmpty(url) && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) && !url.StartsWith(AuthResponses.LoginPath, StringComparison.OrdinalIgnoreCase)
            ? url
            : "/";
}
