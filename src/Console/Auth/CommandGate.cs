using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Taskdeck.Console.Api;

namespace Taskdeck.Console.Auth;

/// <summary>
/// Starting a process needs the <c>commands</c> scope (Admin, or a token holding it). Whether a request starts one is
/// in its body (a task's <c>command</c>, a DAG's command tasks), so the routes require <c>submit</c> and the handler asks
/// this gate once it has read what is asked.
/// </summary>
public static class CommandGate
{
    /// <summary>
    /// A 403 naming <paramref name="field"/> when the request starts a command and the caller may not; null otherwise.
    /// The caller's scope is checked first: <paramref name="startsCommand"/> (which may plan a whole DAG) runs only for
    /// a caller without <c>commands</c>.
    /// </summary>
    public static async Task<ProblemHttpResult?> RefuseAsync(HttpContext http, Func<bool> startsCommand, string field)
    {
        var authorization = http.RequestServices.GetRequiredService<IAuthorizationService>();
        if ((await authorization.AuthorizeAsync(http.User, null, Policies.RunCommands)).Succeeded) return null;
        if (!startsCommand()) return null;
        return Problems.Make(StatusCodes.Status403Forbidden, "Forbidden",
            "Running a command (a process) needs the 'commands' scope: the Admin role, or an API token created with it. Handler tasks need only 'submit'.",
            ("field", field));
    }
}
