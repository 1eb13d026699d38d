namespace Taskdeck.Console.Auth;

/// <summary>
/// What a principal may do. Each policy is one permission; a person's role grants a set of them
/// (Viewer: read; Operator: read, operate, submit; Admin: all), an API token exactly its scopes.
/// The values double as the token scope names.
/// </summary>
public static class Policies
{
    /// <summary>Pages, API GETs, logs, the Hangfire dashboard read-only.</summary>
    public const string Read = "read";

    /// <summary>Cancel, retry, reset, delete, kill/restart DAG runs, pause/resume/trigger schedules.</summary>
    public const string Operate = "operate";

    /// <summary>Submit handler tasks and DAGs made only of handlers.</summary>
    public const string Submit = "submit";

    /// <summary>Submit commands (processes), or anything that starts one.</summary>
    public const string RunCommands = "commands";

    /// <summary>Users, API tokens, settings, the audit trail, the Hangfire dashboard's actions.</summary>
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Read, Operate, Submit, RunCommands, Admin];
}
