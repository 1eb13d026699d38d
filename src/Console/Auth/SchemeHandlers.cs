using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Api;
using Taskdeck.Console.WorkTasks;
using Taskdeck.Core.Access;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.Auth;

/// <summary>The scheme names; <see cref="Selector"/> is the default, and forwards each request to one of the others.</summary>
public static class AuthSchemes
{
    public const string Selector = "Taskdeck";
    /// <summary>Identity's application scheme name, so SignInManager signs in to this cookie.</summary>
    public const string Cookie = "Identity.Application";
    public const string ApiToken = "ApiToken";
    public const string WorkerToken = "WorkerToken";
    public const string Anonymous = "Anonymous";
    /// <summary>The cookie, falling back to anonymous access when the cookie no longer signs anyone in.</summary>
    public const string Session = "Session";
    public const string Oidc = "oidc";

    /// <summary>The console's sign-in cookie (the cross-site checks recognise a console request by it).</summary>
    public const string CookieName = ".Taskdeck.Auth";

    /// <summary>A bearer credential from the header, or on <c>/ws/tasks</c> from <c>?access_token=</c> (browsers cannot set headers on a socket).</summary>
    public static string? Bearer(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return header[scheme.Length..].Trim();
        if (http.Request.Path.StartsWithSegments(WorkTasksApi.SocketRoute) && http.Request.Query.TryGetValue("access_token", out var query))
            return query.ToString();
        return null;
    }

    /// <summary>Which scheme authenticates this request: a bearer by its shape, else the cookie if one came, else anonymous access.</summary>
    public static string Select(HttpContext http)
    {
        if (Bearer(http) is { } bearer)
            return bearer.StartsWith(ApiTokenInfo.SecretPrefix, StringComparison.Ordinal) ? ApiToken : WorkerToken;
        if (http.Request.Cookies.ContainsKey(CookieName)) return Session;
        return Anonymous;
    }
}

/// <summary><c>Authorization: Bearer tdk_…</c>: an API token, with exactly its scopes.</summary>
public sealed class ApiTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IApiTokens tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (AuthSchemes.Bearer(Context) is not { } secret || !secret.StartsWith(ApiTokenInfo.SecretPrefix, StringComparison.Ordinal)) return AuthenticateResult.NoResult();
        var token = await tokens.AuthenticateAsync(secret, Context.RequestAborted);
        if (token is null) return AuthenticateResult.Fail("This API token is unknown, revoked or expired.");
        var claims = token.Scopes.Select(s => new Claim(Permissions.ScopeClaim, s)).Append(new Claim("taskdeck:token-id", token.Id.ToString()));
        return AuthenticateResult.Success(new AuthenticationTicket(
            Permissions.Principal(Scheme.Name, "token:" + token.Name, Permissions.Token, claims), Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        await AuthResponses.UnauthorizedAsync(Context, result.Failure?.Message ?? AuthResponses.NoCredentials);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        AuthResponses.ForbiddenAsync(Context, $"This API token's scopes do not allow {Context.Request.Method} {Context.Request.Path}.");
}

/// <summary>
/// The work-task API's worker tokens: the shared <c>WORKER_AUTH_TOKEN</c> of outside workers, and the per-attempt token a
/// spawned worker is given, good only for reading or reporting its own task while its attempt runs. A worker principal
/// holds no scope: only the work-task routes (<see cref="Policies.WorkTasksRead"/> …) let it in.
/// </summary>
public sealed class WorkerTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, WorkerToken workerToken, IWorkTaskStore workTasks)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (AuthSchemes.Bearer(Context) is not { Length: > 0 } presented || presented.StartsWith(ApiTokenInfo.SecretPrefix, StringComparison.Ordinal))
            return AuthenticateResult.NoResult();
        if (WorkerAttemptTokens.LooksLikeOne(presented))
        {
            if (await AttemptTokenRefusalAsync(presented) is { } refusal) return AuthenticateResult.Fail(new AttemptTokenRefused(refusal));
            return Success("worker:attempt");
        }
        if (workerToken.Required && workerToken.Matches(presented)) return Success("worker");
        return AuthenticateResult.Fail("This bearer token is neither a Taskdeck API token (tdk_…) nor the worker token.");
    }

    private AuthenticateResult Success(string name) =>
        AuthenticateResult.Success(new AuthenticationTicket(Permissions.Principal(Scheme.Name, name, Permissions.Worker, []), Scheme.Name));

    /// <summary>Why an attempt token may not make this request (null: it may).</summary>
    private async Task<string?> AttemptTokenRefusalAsync(string presented)
    {
        var http = Context;
        if (!http.Request.Path.StartsWithSegments(WorkTasksApi.Route, out var rest) || rest.Value?.Trim('/') is not { Length: > 0 } id || id.Contains('/')
            || !(HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsPost(http.Request.Method)))
            return "A spawned worker's token may only read or report its own work task (GET or POST /api/worktasks/{id}).";
        var record = await workTasks.FindAsync(id, http.RequestAborted);
        return record is not null && WorkerAttemptTokens.IsValidFor(record, presented)
            ? null
            : $"This worker token is not valid for work task {id}: it was given to another task, or to an attempt that has ended.";
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        if (result.Failure is AttemptTokenRefused refused) await AuthResponses.ForbiddenAsync(Context, refused.Message);
        else await AuthResponses.UnauthorizedAsync(Context, result.Failure?.Message ?? AuthResponses.NoCredentials);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        AuthResponses.ForbiddenAsync(Context, "A worker token opens only the work-task API (/api/worktasks, /ws/tasks).");

    private sealed class AttemptTokenRefused(string message) : Exception(message);
}

/// <summary>
/// A request with no credentials at all. With <c>Taskdeck:Auth:Anonymous</c> = None it stays unauthenticated, and a
/// challenge sends people to the sign-in page and API callers a 401; otherwise it acts with the configured role.
/// </summary>
public sealed class AnonymousHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IOptionsMonitor<AuthOptions> auth)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var role = auth.CurrentValue.Anonymous;
        if (role == AnonymousAccess.None) return Task.FromResult(AuthenticateResult.NoResult());
        var principal = Permissions.Principal(Scheme.Name, "anonymous", Permissions.Anonymous, [new Claim(ClaimTypes.Role, role.ToString())]);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var role = auth.CurrentValue.Anonymous;
        if (ApiPaths.WantsProblem(Request.Path))
            return AuthResponses.UnauthorizedAsync(Context, role == AnonymousAccess.None
                ? AuthResponses.NoCredentials
                : $"Anonymous access ({role}) does not allow {Context.Request.Method} {Context.Request.Path}. " + AuthResponses.NoCredentials);
        Context.Response.Redirect(AuthResponses.LoginRedirect(Context));
        return Task.CompletedTask;
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        if (ApiPaths.WantsProblem(Request.Path))
            return AuthResponses.ForbiddenAsync(Context, $"Anonymous access ({auth.CurrentValue.Anonymous}) does not allow {Context.Request.Method} {Context.Request.Path}: sign in.");
        Context.Response.Redirect(AuthResponses.LoginRedirect(Context));
        return Task.CompletedTask;
    }
}

/// <summary>
/// A request that brings the console's cookie: the person it signs in, or, when it signs in nobody (expired, signed
/// out elsewhere, forged), whatever anonymous access allows, as if no cookie had come. Challenges and refusals are the
/// cookie's (the sign-in page, or a 401/403 ProblemDetails on the API).
/// </summary>
public sealed class SessionHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var cookie = await Context.AuthenticateAsync(AuthSchemes.Cookie);
        if (cookie.Succeeded) return cookie;
        var anonymous = await Context.AuthenticateAsync(AuthSchemes.Anonymous);
        return anonymous.Succeeded ? anonymous : cookie;
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) => Context.ChallengeAsync(AuthSchemes.Cookie, properties);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) => Context.ForbidAsync(AuthSchemes.Cookie, properties);
}
