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
        if (await MayRunCommandsAsync(http) || !startsCommand()) return null;
        return Refusal(field, null);
    }

    /// <summary>
    /// A DAG: 403 naming the first task that runs a command when the caller may not start one; null otherwise. Returns
    /// whether the caller may, which the run keeps for its generators' output.
    /// </summary>
    public static async Task<(ProblemHttpResult? Refused, bool MayRunCommands)> RefuseDagAsync(HttpContext http, Func<string?> firstCommandTask)
    {
        if (await MayRunCommandsAsync(http)) return (null, true);
        return firstCommandTask() is { } task ? (Refusal("tasks", task), false) : (null, false);
    }

    public static async Task<bool> MayRunCommandsAsync(HttpContext http) =>
        (await http.RequestServices.GetRequiredService<IAuthorizationService>().AuthorizeAsync(http.User, null, Policies.RunCommands)).Succeeded;

    private static ProblemHttpResult Refusal(string field, string? task) =>
        task is null
            ? Problems.Make(StatusCodes.Status403Forbidden, "Forbidden",
                "Running a command (a process) needs the 'commands' scope: the Admin role, or an API token created with it. Handler tasks need only 'submit'.",
                ("field", field))
            : Problems.WithFields(StatusCodes.Status403Forbidden, "Forbidden",
                $"Task '{task}' runs a command (a process), which needs the 'commands' scope: the Admin role, or an API token created with it. "
                + "A DAG of handler tasks needs only 'submit'.",
                [new("field", field), new("task", task)]);
}
