using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.Auth;

/// <summary>Met when the principal holds the scope (a token's claim, or a role that grants it).</summary>
public sealed record ScopeRequirement(string Scope) : IAuthorizationRequirement;

/// <summary>Met by a worker token, or by a principal holding <see cref="Scope"/> (not anonymous access while a worker token is configured).</summary>
public sealed record WorkTaskRequirement(string Scope) : IAuthorizationRequirement;

public sealed class ScopeRequirementHandler(WorkerToken workerToken) : IAuthorizationHandler
{
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        foreach (var requirement in context.PendingRequirements.ToList())
        {
            switch (requirement)
            {
                case ScopeRequirement scope when Permissions.Has(context.User, scope.Scope):
                    context.Succeed(requirement);
                    break;
                case WorkTaskRequirement work:
                    var kind = Permissions.KindOf(context.User);
                    if (kind == Permissions.Worker
                        || (Permissions.Has(context.User, work.Scope) && !(workerToken.Required && kind == Permissions.Anonymous)))
                        context.Succeed(requirement);
                    break;
            }
        }
        return Task.CompletedTask;
    }
}

/// <summary>
/// A refusal of anonymous access is a request to sign in (401, or the sign-in page), not a 403: credentials would
/// change the answer. Everything else is answered as ASP.NET Core does (401 without a principal, 403 beyond its rights).
/// </summary>
public sealed class SignInToDoMore : Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler
{
    private readonly Microsoft.AspNetCore.Authorization.Policy.AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, Microsoft.AspNetCore.Authorization.Policy.PolicyAuthorizationResult authorizeResult)
    {
        // Forbidden means authenticated: not signed in here is anonymous access.
        if (authorizeResult.Forbidden && !Permissions.IsSignedIn(context.User))
            return context.ChallengeAsync();
        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
