using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Api;
using Taskdeck.Core.Access;
using Taskdeck.Data.Access;

namespace Taskdeck.Console.Auth;

/// <summary>
/// Who is asking, and what they may do. Schemes: the console's cookie (<c>.Taskdeck.Auth</c>, from the sign-in page or
/// OpenID Connect), API tokens (<c>Bearer tdk_…</c>), the work-task API's worker tokens, and anonymous access when
/// configured; a policy scheme picks one per request (<see cref="AuthSchemes.Select"/>). Policies: one per scope
/// (<see cref="Policies"/>), with <see cref="Policies.Read"/> as the fallback for every endpoint that names none.
/// </summary>
public static class AuthSetup
{
    public static IServiceCollection AddTaskdeckAuth(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthOptions>, ValidateAuthOptions>();
        services.AddSingleton<WorkerToken>();
        var settings = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();

        // Identity's store comes with Data (AddTaskdeckData); the console adds signing in.
        new IdentityBuilder(typeof(TaskdeckUser), typeof(IdentityRole), services).AddSignInManager();
        services.Replace(ServiceDescriptor.Scoped<IUserClaimsPrincipalFactory<TaskdeckUser>, PersonClaimsFactory>());
        services.Configure<SecurityStampValidatorOptions>(o => o.ValidationInterval = TimeSpan.FromMinutes(1));

        var authentication = services.AddAuthentication(o =>
            {
                o.DefaultScheme = AuthSchemes.Selector;
                o.DefaultChallengeScheme = AuthSchemes.Selector;
                o.DefaultForbidScheme = AuthSchemes.Selector;
                o.DefaultSignInScheme = AuthSchemes.Cookie;
                o.DefaultSignOutScheme = AuthSchemes.Cookie;
            })
            .AddPolicyScheme(AuthSchemes.Selector, "Taskdeck", o => o.ForwardDefaultSelector = AuthSchemes.Select)
            .AddCookie(AuthSchemes.Cookie, o =>
            {
                o.Cookie.Name = AuthSchemes.CookieName;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.SlidingExpiration = true;
                o.LoginPath = AuthResponses.LoginPath;
                o.AccessDeniedPath = AuthResponses.DeniedPath;
                o.Events = new CookieAuthenticationEvents
                {
                    OnRedirectToLogin = c => ApiPaths.WantsProblem(c.Request.Path)
                        ? AuthResponses.UnauthorizedAsync(c.HttpContext, "The console's session has ended: sign in again.")
                        : Redirect(c.HttpContext, AuthResponses.LoginRedirect(c.HttpContext)),
                    OnRedirectToAccessDenied = c => ApiPaths.WantsProblem(c.Request.Path)
                        ? AuthResponses.ForbiddenAsync(c.HttpContext, $"Your role does not allow {c.Request.Method} {c.Request.Path}.")
                        : Redirect(c.HttpContext, AuthResponses.DeniedRedirect(c.HttpContext)),
                    // Local accounts are re-checked against their security stamp (deleted user, new role, new password);
                    // people from the identity provider have no local account to check.
                    OnValidatePrincipal = c => c.Principal?.HasClaim(Permissions.SourceClaim, "oidc") == true
                        ? Task.CompletedTask
                        : SecurityStampValidator.ValidatePrincipalAsync(c),
                };
            })
            .AddScheme<AuthenticationSchemeOptions, ApiTokenHandler>(AuthSchemes.ApiToken, null)
            .AddScheme<AuthenticationSchemeOptions, WorkerTokenHandler>(AuthSchemes.WorkerToken, null)
            .AddScheme<AuthenticationSchemeOptions, AnonymousHandler>(AuthSchemes.Anonymous, null)
            .AddScheme<AuthenticationSchemeOptions, SessionHandler>(AuthSchemes.Session, null);
        if (settings.Oidc.Enabled) authentication.AddOpenIdConnect(AuthSchemes.Oidc, o => ConfigureOidc(o, settings.Oidc));

        var authorization = services.AddAuthorizationBuilder();
        foreach (var scope in Policies.All)
            authorization.AddPolicy(scope, p => p.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(scope)));
        authorization.AddPolicy(Policies.WorkTasksRead, p => p.RequireAuthenticatedUser().AddRequirements(new WorkTaskRequirement(Policies.Read)));
        authorization.AddPolicy(Policies.WorkTasksSubmit, p => p.RequireAuthenticatedUser().AddRequirements(new WorkTaskRequirement(Policies.Submit)));
        authorization.AddPolicy(Policies.WorkTasksReport, p => p.RequireAuthenticatedUser().AddRequirements(new WorkTaskRequirement(Policies.Operate)));
        // Anything mapped without a policy of its own (pages, the Blazor hub, framework endpoints) needs at least read.
        authorization.SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(Policies.Read)).Build());
        services.AddSingleton<IAuthorizationHandler, ScopeRequirementHandler>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, SignInToDoMore>();

        services.AddCascadingAuthenticationState();
        services.AddSingleton<FirstRunSetup>();
        services.AddHostedService<FirstRunSetupAnnouncer>();
        services.AddHostedService<AnonymousAccessWarning>();
        return services;
    }

    /// <summary>Who is asking (before the cross-site guard, which checks a cookie call's antiforgery token against that user).</summary>
    public static WebApplication UseTaskdeckAuthentication(this WebApplication app)
    {
        app.UseAuthentication();
        return app;
    }

    /// <summary>Endpoint policies, then the guard of the one door that is middleware rather than an endpoint.</summary>
    public static WebApplication UseTaskdeckAuthorization(this WebApplication app)
    {
        app.UseAuthorization();
        // Swagger UI is middleware, not an endpoint: no endpoint policy reaches it, so it is checked here.
        app.UseWhen(http => http.Request.Path.StartsWithSegments(ApiPaths.Docs), docs => docs.Use(async (http, next) =>
        {
            if (!await AllowedAsync(http, Policies.Read)) return;
            await next();
        }));
        return app;
    }

    /// <summary>Runs the policy for a middleware door; answers the refusal (sign-in page, 401 or 403) when it fails.</summary>
    public static async Task<bool> AllowedAsync(HttpContext http, string policy)
    {
        var authorization = http.RequestServices.GetRequiredService<IAuthorizationService>();
        if ((await authorization.AuthorizeAsync(http.User, null, policy)).Succeeded) return true;
        if (Permissions.IsSignedIn(http.User)) await http.ForbidAsync();
        else await http.ChallengeAsync();
        return false;
    }

    private static Task Redirect(HttpContext http, string location)
    {
        http.Response.Redirect(location);
        return Task.CompletedTask;
    }

    internal static void ConfigureOidc(OpenIdConnectOptions o, OidcOptions oidc)
    {
        o.Authority = oidc.Authority;
        o.ClientId = oidc.ClientId;
        o.ClientSecret = oidc.ClientSecret;
        o.ResponseType = "code";
        o.UsePkce = true;
        o.SignInScheme = AuthSchemes.Cookie;
        o.CallbackPath = "/signin-oidc";
        o.SignedOutCallbackPath = "/signout-callback-oidc";
        o.SaveTokens = false;
        o.GetClaimsFromUserInfoEndpoint = true;
        o.MapInboundClaims = false;
        o.Scope.Clear();
        foreach (var scope in new[] { "openid", "profile" }) o.Scope.Add(scope);
        o.TokenValidationParameters.NameClaimType = oidc.NameClaim;
        o.TokenValidationParameters.RoleClaimType = oidc.RoleClaim;
        o.Events.OnTokenValidated = c =>
        {
            c.Principal = OidcPrincipal(c.Principal!, oidc);
            return Task.CompletedTask;
        };
        o.Events.OnTicketReceived = async c =>
        {
            var audit = c.HttpContext.RequestServices.GetRequiredService<Core.Audit.IAuditTrail>();
            await audit.RecordAsync(new Core.Audit.AuditRecord(Audit.Actors.FromPrincipal(c.Principal, Audit.Actors.Address(c.HttpContext)),
                Core.Audit.AuditActions.SignIn, Core.Audit.AuditOutcome.Applied) { Reason = "OpenID Connect" });
        };
    }

    /// <summary>A person from the identity provider: their name, and the highest Taskdeck role among the role claim's values.</summary>
    internal static ClaimsPrincipal OidcPrincipal(ClaimsPrincipal external, OidcOptions oidc)
    {
        var name = external.FindFirst(oidc.NameClaim)?.Value ?? external.FindFirst("name")?.Value ?? external.FindFirst("sub")?.Value ?? "(unnamed)";
        var values = external.FindAll(oidc.RoleClaim).SelectMany(c => c.Value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries));
        var role = AccessRoles.All.LastOrDefault(r => values.Any(v => string.Equals(v, r, StringComparison.OrdinalIgnoreCase)));
        var claims = new List<Claim> { new(Permissions.SourceClaim, "oidc") };
        if (external.FindFirst("sub") is { } sub) claims.Add(new Claim("sub", sub.Value));
        if (role is not null) claims.Add(new Claim(ClaimTypes.Role, role));
        return Permissions.Principal("oidc", name, Permissions.Person, claims);
    }
}

/// <summary>A signed-in person's principal: Identity's claims (name, role, security stamp) plus the kind and source.</summary>
public sealed class PersonClaimsFactory(UserManager<TaskdeckUser> users, RoleManager<IdentityRole> roles, IOptions<IdentityOptions> options)
    : UserClaimsPrincipalFactory<TaskdeckUser, IdentityRole>(users, roles, options)
{
    protected override async Task<ClaimsIdentity> GenerateClaimsAsync(TaskdeckUser user)
    {
        var identity = await base.GenerateClaimsAsync(user);
        identity.AddClaim(new Claim(Permissions.KindClaim, Permissions.Person));
        identity.AddClaim(new Claim(Permissions.SourceClaim, "local"));
        return identity;
    }
}

/// <summary>Every start with anonymous access on says so, as a warning.</summary>
public sealed class AnonymousAccessWarning(IOptions<AuthOptions> options, ILogger<AnonymousAccessWarning> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var role = options.Value.Anonymous;
        if (role != AnonymousAccess.None)
            logger.LogWarning("Anonymous access is on (Taskdeck:Auth:Anonymous = {Role}): anyone who can reach this node acts as {Role} without signing in.{Extra}",
                role, role, role == AnonymousAccess.Admin ? " That includes running commands and managing users: only for tests and a single-user laptop." : "");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
