using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Access;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Limits;

namespace Taskdeck.Data.Access;

/// <summary><see cref="IUserAdmin"/> over ASP.NET Core Identity's <see cref="UserManager{TUser}"/> (scoped, like it).</summary>
public sealed class UserAdmin(UserManager<TaskdeckUser> users, AccessDbContext db, IAuditTrail audit, TimeProvider time) : IUserAdmin
{
    public async Task<IReadOnlyList<UserInfo>> ListAsync(CancellationToken ct = default)
    {
        // One query: each user once per role held (once, with none, when they hold no role).
        var rows = await (
            from user in db.Users.AsNoTracking()
            from held in db.UserRoles.Where(h => h.UserId == user.Id).DefaultIfEmpty()
            from role in db.Roles.Where(r => r.Id == held!.RoleId).DefaultIfEmpty()
            orderby user.NormalizedUserName
            select new { User = user, Role = role!.Name }).ToListAsync(ct);
        return rows.GroupBy(r => r.User.Id).Select(g => Info(g.First().User, g.Select(r => r.Role).OfType<string>().ToList())).ToList();
    }

    public async Task<UserInfo?> FindAsync(string name, CancellationToken ct = default) =>
        await users.FindByNameAsync((name ?? "").Trim()) is { } user ? await InfoAsync(user) : null;

    public async Task<UserInfo> AddAsync(string name, string password, string role, Actor by, CancellationToken ct = default)
    {
        name = (name ?? "").Trim();
        if (name.Length == 0) throw new AccessRequestException("name", "A user needs a name.");
        if (TextRules.NameProblem(name, 100, "A user's name") is { } nameProblem) throw new AccessRequestException("name", nameProblem);
        var canonical = RoleOrThrow(role);
        if (string.IsNullOrEmpty(password)) throw new AccessRequestException("password", "A password is required.");
        if (await users.FindByNameAsync(name) is not null) throw new AccessRequestException("name", $"A user named '{name}' already exists.");

        var user = new TaskdeckUser { UserName = name, CreatedAt = time.GetUtcNow() };
        Check(await users.CreateAsync(user, password));
        Check(await users.AddToRoleAsync(user, canonical));
        await audit.RecordAsync(new AuditRecord(by, AuditActions.CreateUser, AuditOutcome.Applied)
        {
            RecordType = AuditRecordTypes.User, RecordIds = [name], Count = 1, Reason = canonical,
        }, ct);
        return await InfoAsync(user);
    }

    public async Task<UserInfo> SetRoleAsync(string name, string role, Actor by, CancellationToken ct = default)
    {
        var user = await UserOrThrow(name);
        var canonical = RoleOrThrow(role);
        var current = await users.GetRolesAsync(user);
        if (current.Contains(AccessRoles.Admin) && canonical != AccessRoles.Admin && await AdminCountAsync() <= 1)
            throw new AccessRequestException("role", $"{user.UserName} is the last administrator: make someone else Admin first.");
        if (current.Count != 1 || current[0] != canonical)
        {
            if (current.Count > 0) Check(await users.RemoveFromRolesAsync(user, current));
            Check(await users.AddToRoleAsync(user, canonical));
            // Sessions signed in with the old role are re-validated against the new stamp.
            Check(await users.UpdateSecurityStampAsync(user));
        }
        await audit.RecordAsync(new AuditRecord(by, AuditActions.UpdateUser, AuditOutcome.Applied)
        {
            RecordType = AuditRecordTypes.User, RecordIds = [user.UserName!], Count = 1, Reason = $"role {string.Join(',', current)} → {canonical}",
        }, ct);
        return await InfoAsync(user);
    }

    public async Task SetPasswordAsync(string name, string password, Actor by, CancellationToken ct = default)
    {
        var user = await UserOrThrow(name);
        if (string.IsNullOrEmpty(password)) throw new AccessRequestException("password", "A password is required.");
        foreach (var validator in users.PasswordValidators) Check(await validator.ValidateAsync(users, user, password));
        Check(await users.RemovePasswordAsync(user));
        Check(await users.AddPasswordAsync(user, password));
        Check(await users.SetLockoutEndDateAsync(user, null));
        Check(await users.ResetAccessFailedCountAsync(user));
        await audit.RecordAsync(new AuditRecord(by, AuditActions.UpdateUser, AuditOutcome.Applied)
        {
            RecordType = AuditRecordTypes.User, RecordIds = [user.UserName!], Count = 1, Reason = "password set",
        }, ct);
    }

    public async Task<bool> DeleteAsync(string name, Actor by, CancellationToken ct = default)
    {
        if (await users.FindByNameAsync((name ?? "").Trim()) is not { } user) return false;
        if (await users.IsInRoleAsync(user, AccessRoles.Admin) && await AdminCountAsync() <= 1)
            throw new AccessRequestException("name", $"{user.UserName} is the last administrator and cannot be deleted.");
        Check(await users.DeleteAsync(user));
        await audit.RecordAsync(new AuditRecord(by, AuditActions.DeleteUser, AuditOutcome.Applied)
        {
            RecordType = AuditRecordTypes.User, RecordIds = [user.UserName!], Count = 1,
        }, ct);
        return true;
    }

    public async Task<bool> AnyAdminAsync(CancellationToken ct = default) => await AdminCountAsync() > 0;

    private async Task<int> AdminCountAsync() => (await users.GetUsersInRoleAsync(AccessRoles.Admin)).Count;

    private async Task<TaskdeckUser> UserOrThrow(string name) =>
        await users.FindByNameAsync((name ?? "").Trim()) ?? throw new AccessRequestException("name", $"No user is named '{name}'.");

    private static string RoleOrThrow(string role) => AccessRoles.Normalize(role)
        ?? throw new AccessRequestException("role", $"Unknown role '{role}': use {string.Join(", ", AccessRoles.All)}.");

    private async Task<UserInfo> InfoAsync(TaskdeckUser user) => Info(user, await users.GetRolesAsync(user));

    private UserInfo Info(TaskdeckUser user, IList<string> roles)
    {
        var role = AccessRoles.All.LastOrDefault(roles.Contains) ?? "";
        var locked = user.LockoutEnd is { } end && end > time.GetUtcNow() ? end : (DateTimeOffset?)null;
        return new UserInfo(user.Id, user.UserName ?? "", role, locked, user.AccessFailedCount);
    }

    /// <summary>Identity's errors as one refusal naming the field (passwords' rules name <c>password</c>).</summary>
    private static void Check(IdentityResult result)
    {
        if (result.Succeeded) return;
        var errors = result.Errors.ToList();
        var field = errors.Any(e => e.Code.StartsWith("Password", StringComparison.Ordinal)) ? "password"
            : errors.Any(e => e.Code.Contains("UserName", StringComparison.Ordinal)) ? "name"
            : errors.Any(e => e.Code.Contains("Role", StringComparison.Ordinal)) ? "role" : "user";
        throw new AccessRequestException(field, string.Join(" ", errors.Select(e => e.Description)));
    }
}
