namespace Taskdeck.Core.Audit;

/// <summary>What kind of principal acted.</summary>
public enum ActorKind
{
    /// <summary>A person signed in to the console (cookie) or an identity provider.</summary>
    User = 0,
    /// <summary>Automation with an API token (<c>Authorization: Bearer</c>).</summary>
    ApiToken = 1,
    /// <summary>Nobody signed in: only where anonymous access is configured.</summary>
    Anonymous = 2,
    /// <summary>Taskdeck itself (the demo workload, a schedule firing, start-up set-up).</summary>
    System = 3,
}

/// <summary>
/// Who asks for an action, and from where. Console and API map their principal onto this (Core knows no ASP.NET);
/// Core's services record it in the audit trail and beside the state changes the act makes.
/// </summary>
public sealed record Actor(string Name, ActorKind Kind, string? Address = null)
{
    public static readonly Actor System = new("system", ActorKind.System);

    public static Actor Anonymous(string? address = null) => new("anonymous", ActorKind.Anonymous, address);

    public static Actor User(string name, string? address = null) => new(name, ActorKind.User, address);

    public static Actor ApiToken(string name, string? address = null) => new(name, ActorKind.ApiToken, address);

    /// <summary>
    /// The name kept beside a state change ("by alice"). Taskdeck's own acts keep none, so the engine's transitions
    /// stay as they were (a null column).
    /// </summary>
    public string? HistoryName => Kind == ActorKind.System ? null : Name;
}
