using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Access;

namespace Taskdeck.Unit.Auth;

/// <summary>The sign-in form: lockout after repeated failures, open redirects refused, every attempt in the audit trail.</summary>
[Collection(AuthCollection.Name)]
public sealed class SignInTests(AuthHost host)
{
    private async Task<JsonArray> TrailAsync(string query)
    {
        var admin = host.Bearer(await host.TokenAsync(AccessScopes.Admin));
        return JsonNode.Parse(await admin.GetStringAsync("/api/audit?" + query))!["items"]!.AsArray();
    }

    [Fact]
    public async Task SignIn_IsAudited_WithThePrincipalAndAddress_AndAFailureAsRefused()
    {
        var name = await host.UserAsync(AccessRoles.Operator);

        var wrong = await AuthHost.PostLoginAsync(host.Anonymous(), name, "not the password");
        Assert.Equal("/login?error=invalid&ReturnUrl=%2F", wrong.Headers.Location?.OriginalString);
        var right = await AuthHost.PostLoginAsync(host.Anonymous(), name, AuthHost.Password, "/executions?state=FAILED");
        Assert.Equal("/executions?state=FAILED", right.Headers.Location?.OriginalString);

        var trail = await TrailAsync($"action=auth.sign-in&actor={name}");
        Assert.Equal(["Applied", "Refused"], trail.Select(e => (string?)e!["outcome"]));
        Assert.All(trail, e =>
        {
            Assert.Equal(name, (string?)e!["actor"]);
            Assert.Equal("User", (string?)e["actorKind"]);
        });
        Assert.Equal("wrong name or password", (string?)trail[1]!["reason"]);
    }

    [Fact]
    public async Task ANameHoldingAControlCharacter_IsAWrongNameOrPassword()
    {
        // No user's name holds one (ASP.NET's form reader refuses %00 itself; on PostgreSQL a NUL reaching the lookup answered 500).
        var response = await AuthHost.PostLoginAsync(host.Anonymous(), "mallory\u0001", AuthHost.Password);

        Assert.Equal("/login?error=invalid&ReturnUrl=%2F", response.Headers.Location?.OriginalString);
        Assert.Contains(await TrailAsync("action=auth.sign-in&outcome=Refused"), e => (string?)e!["actor"] == "mallory\u0001");
    }

    [Fact]
    public async Task ThreeFailures_LockTheAccount_EvenAgainstTheRightPassword()
    {
        var name = await host.UserAsync(AccessRoles.Viewer);
        for (var i = 0; i < 3; i++) await AuthHost.PostLoginAsync(host.Anonymous(), name, "guess " + i);

        var response = await AuthHost.PostLoginAsync(host.Anonymous(), name, AuthHost.Password);

        Assert.StartsWith("/login?error=locked", response.Headers.Location?.OriginalString);
        await using var scope = host.Services.CreateAsyncScope();
        var user = await scope.ServiceProvider.GetRequiredService<IUserAdmin>().FindAsync(name);
        Assert.NotNull(user!.LockedOutUntil);
        Assert.Contains(await TrailAsync($"action=auth.sign-in&actor={name}&outcome=Refused"), e => (string?)e!["reason"] == "locked out after repeated failures");

        // An administrator setting a new password ends the lockout.
        await scope.ServiceProvider.GetRequiredService<IUserAdmin>().SetPasswordAsync(name, AuthHost.Password + "!", AuthHost.Tester);
        Assert.Equal("/", (await AuthHost.PostLoginAsync(host.Anonymous(), name, AuthHost.Password + "!")).Headers.Location?.OriginalString);
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example/")]
    public async Task AReturnUrlOffThisSite_LandsOnTheDashboard(string returnUrl)
    {
        var name = await host.UserAsync(AccessRoles.Viewer);

        var response = await AuthHost.PostLoginAsync(host.Anonymous(), name, AuthHost.Password, returnUrl);

        Assert.Equal("/", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task AFormWithoutItsAntiforgeryToken_SignsNobodyIn()
    {
        var name = await host.UserAsync(AccessRoles.Admin);
        var client = host.Anonymous();

        var response = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = name, ["password"] = AuthHost.Password }));

        Assert.StartsWith("/login?error=expired", response.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/executions")).StatusCode);
    }

    [Fact]
    public async Task TheLastAdministrator_CanBeNeitherDemotedNorDeleted()
    {
        await using var scope = host.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<IUserAdmin>();
        var admins = (await users.ListAsync()).Where(u => u.Role == AccessRoles.Admin).ToList();
        foreach (var extra in admins.Skip(1)) await users.DeleteAsync(extra.Name, AuthHost.Tester);
        var last = admins.FirstOrDefault()?.Name ?? await host.UserAsync(AccessRoles.Admin);

        Assert.Equal("role", (await Assert.ThrowsAsync<AccessRequestException>(() => users.SetRoleAsync(last, AccessRoles.Viewer, AuthHost.Tester))).Field);
        Assert.Equal("name", (await Assert.ThrowsAsync<AccessRequestException>(() => users.DeleteAsync(last, AuthHost.Tester))).Field);

        var second = await host.UserAsync(AccessRoles.Admin);
        Assert.Equal(AccessRoles.Viewer, (await users.SetRoleAsync(last, AccessRoles.Viewer, AuthHost.Tester)).Role);
        Assert.True(await users.DeleteAsync(last, AuthHost.Tester));
        Assert.True(await users.AnyAdminAsync());
        Assert.NotNull(await users.FindAsync(second));
    }
}
