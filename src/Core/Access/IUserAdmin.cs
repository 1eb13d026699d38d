using Taskdeck.Core.Audit;

namespace Taskdeck.Core.Access;

/// <summary>
/// People who sign in to the console with a name and password (ASP.NET Core Identity in Taskdeck's database). Each
/// holds exactly one role of <see cref="AccessRoles"/>. Changes are recorded in the audit trail as the given actor.
/// The last administrator can be neither deleted nor demoted, so the console can never be locked out of its own
/// administration. Every refusal is an <see cref="AccessRequestException"/> naming the field at fault.
/// </summary>
public interface IUserAdmin
{
    /// <summary>Every user by name, with role and lockout.</summary>
    Task<IReadOnlyList<UserInfo>> ListAsync(CancellationToken ct = default);

    Task<UserInfo?> FindAsync(string name, CancellationToken ct = default);

    /// <summary>Adds a user (<c>name</c> taken or invalid, <c>password</c> too weak, <c>role</c> unknown: refused).</summary>
    Task<UserInfo> AddAsync(string name, string password, string role, Actor by, CancellationToken ct = default);

    /// <summary>Gives a user another role; their existing sessions pick it up within a minute (security stamp).</summary>
    Task<UserInfo> SetRoleAsync(string name, string role, Actor by, CancellationToken ct = default);

    /// <summary>Sets a new password and ends the user's lockout.</summary>
    Task SetPasswordAsync(string name, string password, Actor by, CancellationToken ct = default);

    /// <summary>Deletes a user; false when there was none of that name.</summary>
    Task<bool> DeleteAsync(string name, Actor by, CancellationToken ct = default);

    /// <summary>Whether any user holds the Admin role (no: the first-run set-up link is offered).</summary>
    Task<bool> AnyAdminAsync(CancellationToken ct = default);
}

/// <summary>A user as the console shows them.</summary>
public sealed record UserInfo(string Id, string Name, string Role, DateTimeOffset? LockedOutUntil, int FailedSignIns);
