using Taskdeck.Core.Access;

namespace Taskdeck.Console.Auth;

/// <summary>
/// What a principal may do. Each policy is one permission; a person's role grants a set of them
/// (Viewer: read; Operator: read, operate, submit; Admin: all), an API token exactly its scopes.
/// The values double as the token scope names (<see cref="AccessScopes"/>).
/// </summary>
public static class Policies
{
    /// <summary>Pages, API GETs, logs, the Hangfire dashboard read-only.</summary>
    public const string Read = AccessScopes.Read;

    /// <summary>Cancel, retry, reset, delete, kill/restart DAG runs, pause/resume/trigger schedules.</summary>
    public const string Operate = AccessScopes.Operate;

    /// <summary>Submit handler tasks and DAGs made only of handlers.</summary>
    public const string Submit = AccessScopes.Submit;

    /// <summary>Submit commands (processes), or anything that starts one.</summary>
    public const string RunCommands = AccessScopes.Commands;

    /// <summary>Users, API tokens, settings, the audit trail, the Hangfire dashboard's actions.</summary>
    public const string Admin = AccessScopes.Admin;

    public static readonly IReadOnlyList<string> All = AccessScopes.All;

    /// <summary>
    /// The work-task API (seed 003): its worker token (<c>WORKER_AUTH_TOKEN</c>, or a spawned worker's own) passes, and so
    /// does a principal with the scope named after the colon. While a worker token is configured, anonymous access does
    /// not reach these routes: outside workers must present it, people and automation their own credentials.
    /// </summary>
    public const string WorkTasksRead = "worktasks:read";

    /// <inheritdoc cref="WorkTasksRead"/>
    public const string WorkTasksSubmit = "worktasks:submit";

    /// <summary>Status callbacks (<c>POST /api/worktasks/{id}</c>): a worker, or a principal that may operate.</summary>
    public const string WorkTasksReport = "worktasks:operate";
}
