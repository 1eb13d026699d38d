using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Taskdeck.Console.Api;
using Taskdeck.Core.Dags;

namespace Taskdeck.Console.Auth;

/// <summary>
/// Starting a process needs the <c>commands</c> scope (Admin, or a token holding it). Whether a request starts one is
/// in its body (a task's <c>command</c>, a DAG's command tasks), so the routes require <c>submit</c> and the handler asks
/// this gate once it has read what is asked.
/// </summary>
public static class CommandGate
{
    /// <summary>A 403 naming <paramref name="field"/> when the request starts a command and the caller may not; null otherwise.</summary>
    public static async Task<ProblemHttpResult?> RefuseAsync(HttpContext http, bool startsCommand, string field)
    {
        if (!startsCommand) return null;
        var authorization = http.RequestServices.GetRequiredService<IAuthorizationService>();
        if ((await authorization.AuthorizeAsync(http.User, null, Policies.RunCommands)).Succeeded) return null;
        return Problems.Make(StatusCodes.Status403Forbidden, "Forbidden",
            "Running a command (a process) needs the 'commands' scope: the Admin role, or an API token created with it. Handler tasks need only 'submit'.",
            ("field", field));
    }

    /// <summary>Whether a DAG spec has a task that runs a command (an invalid spec is left to the validation that follows).</summary>
    public static bool DagHasCommands(DagService dags, JsonElement spec)
    {
        if (spec.ValueKind != JsonValueKind.Object) return false;
        var plan = dags.Validate(spec);
        return plan.Tasks.Any(t => t.Job.Handler is null);
    }
}
