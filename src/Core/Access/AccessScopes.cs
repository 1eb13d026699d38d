namespace Taskdeck.Core.Access;

/// <summary>
/// What a principal may do. A person's role grants a fixed set of scopes; an API token holds exactly the scopes it was
/// created with. The Console's authorization policies carry the same names (<c>Taskdeck.Console.Auth.Policies</c>).
/// </summary>
public static class AccessScopes
{
    /// <summary>Pages, API GETs, logs, the Hangfire dashboard read-only.</summary>
    public const string Read = "read";

    /// <summary>Cancel, retry, reset, delete, kill/restart DAG runs, pause/resume/trigger schedules.</summary>
    public const string Operate = "operate";

    /// <summary>Submit handler tasks and DAGs made only of handlers; create and change schedules of handlers.</summary>
    public const string Submit = "submit";

    /// <summary>Submit commands (processes), or anything that starts one.</summary>
    public const string Commands = "commands";

    /// <summary>Users, API tokens, settings, the audit trail, the Hangfire dashboard's actions.</summary>
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Read, Operate, Submit, Commands, Admin];

    public static bool IsKnown(string scope) => All.Contains(scope, StringComparer.Ordinal);
}

/// <summary>The three roles a person can hold, lowest first; each grants the scopes of the one below and more.</summary>
public static class AccessRoles
{
    public const string Viewer = "Viewer";
    public const string Operator = "Operator";
    public const string Admin = "Admin";

    public static readonly IReadOnlyList<string> All = [Viewer, Operator, Admin];

    /// <summary>The scopes a role grants: Viewer read; Operator read, operate, submit; Admin all of them.</summary>
    public static IReadOnlyList<string> ScopesOf(string? role) => Normalize(role) switch
    {
        Viewer => [AccessScopes.Read],
        Operator => [AccessScopes.Read, AccessScopes.Operate, AccessScopes.Submit],
        Admin => AccessScopes.All,
        _ => [],
    };

    /// <summary>The role's canonical spelling ("operator" → "Operator"), or null for a name that is no role.</summary>
    public static string? Normalize(string? role) =>
        role is null ? null : All.FirstOrDefault(r => string.Equals(r, role.Trim(), StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// A request to the user or token services that cannot be carried out as asked; <see cref="Field"/> names the input at
/// fault (<c>name</c>, <c>password</c>, <c>role</c>, <c>scopes</c>, <c>expiresAt</c>, …) so an endpoint can answer a
/// ProblemDetails naming it, and a page can put the message beside that field.
/// </summary>
public sealed class AccessRequestException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
