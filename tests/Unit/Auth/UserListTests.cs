using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Access;
using Taskdeck.Data.Access;

namespace Taskdeck.Unit.Auth;

/// <summary>
/// The users list reads every user with their roles at once: each user comes once, by name, with the role and lockout
/// that reading the user alone gives — a user holding two roles shows the higher, one holding none shows none.
/// </summary>
[Collection(AuthCollection.Name)]
public sealed class UserListTests(AuthHost host)
{
    [Fact]
    public async Task List_GivesEachUserOnce_WithWhatFindGives_ForTwoRolesAndForNone()
    {
        var viewer = await host.UserAsync(AccessRoles.Viewer);
        var twoRoles = await host.UserAsync(AccessRoles.Viewer);
        var noRole = await host.UserAsync(AccessRoles.Operator);
        await using var scope = host.Services.CreateAsyncScope();
        var identity = scope.ServiceProvider.GetRequiredService<UserManager<TaskdeckUser>>();
        Assert.True((await identity.AddToRoleAsync((await identity.FindByNameAsync(twoRoles))!, AccessRoles.Operator)).Succeeded);
        Assert.True((await identity.RemoveFromRoleAsync((await identity.FindByNameAsync(noRole))!, AccessRoles.Operator)).Succeeded);
        var admin = scope.ServiceProvider.GetRequiredService<IUserAdmin>();

        var listed = await admin.ListAsync();

        Assert.Equal(listed.Select(u => u.Name).Distinct().Count(), listed.Count);
        Assert.Equal(listed.Select(u => u.Name).Order(StringComparer.OrdinalIgnoreCase), listed.Select(u => u.Name));
        foreach (var user in listed) Assert.Equal(await admin.FindAsync(user.Name), user);
        Assert.Equal((AccessRoles.Viewer, AccessRoles.Operator, ""),
            (listed.Single(u => u.Name == viewer).Role, listed.Single(u => u.Name == twoRoles).Role, listed.Single(u => u.Name == noRole).Role));
    }
}
