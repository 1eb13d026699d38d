using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Access;
using Taskdeck.Data.Access;

namespace Taskdeck.Unit.Auth;

/// <summary>API tokens: each scope opens exactly its own actions; expired and revoked tokens are refused.</summary>
[Collection(AuthCollection.Name)]
public sealed class TokenTests(AuthHost host)
{
    /// <summary>One action per scope, and what it needs.</summary>
    private async Task<HttpStatusCode> TryAsync(HttpClient client, string action)
    {
        switch (action)
        {
            case AccessScopes.Read:
                return (await client.GetAsync("/api/executions")).StatusCode;
            case AccessScopes.Operate:
                return (await client.PostAsync($"/api/executions/{await host.SubmitWaitingAsync()}/cancel", null)).StatusCode;
            case AccessScopes.Submit:
                return (await client.PostAsync("/api/tasks", AuthHost.Json(new JsonObject { ["task"] = "demo.noop" }))).StatusCode;
            case AccessScopes.Commands:
                return (await client.PostAsync("/api/tasks", AuthHost.Json(new JsonObject { ["command"] = new JsonArray("/bin/true") }))).StatusCode;
            case AccessScopes.Admin:
                return (await client.GetAsync("/api/audit")).StatusCode;
            default:
                throw new ArgumentOutOfRangeException(nameof(action));
        }
    }

    public static TheoryData<string> Scopes => new(AccessScopes.All);

    [Theory]
    [MemberData(nameof(Scopes))]
    public async Task EachScope_AllowsExactlyItsActions(string scope)
    {
        // Running a command is submitting one: the commands scope comes on top of submit.
        var granted = scope == AccessScopes.Commands ? new[] { AccessScopes.Submit, AccessScopes.Commands } : [scope];
        var client = host.Bearer(await host.TokenAsync(granted));

        foreach (var action in AccessScopes.All)
        {
            var status = await TryAsync(client, action);
            var allowed = granted.Contains(action);
            Assert.True(allowed ? (int)status < 300 : status == HttpStatusCode.Forbidden,
                $"token [{string.Join(",", granted)}] doing {action}: {(int)status}");
        }
    }

    [Fact]
    public async Task SubmitAlone_CannotRunACommand_AndCommandsAlone_CannotSubmit()
    {
        var submit = host.Bearer(await host.TokenAsync(AccessScopes.Submit));
        var commands = host.Bearer(await host.TokenAsync(AccessScopes.Commands));
        var command = AuthHost.Json(new JsonObject { ["command"] = new JsonArray("/bin/true") });

        Assert.Equal(HttpStatusCode.Forbidden, (await submit.PostAsync("/api/tasks", command)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await commands.PostAsync("/api/tasks", AuthHost.Json(new JsonObject { ["command"] = new JsonArray("/bin/true") }))).StatusCode);
    }

    [Fact]
    public async Task ARevokedToken_IsRefused_AtOnce()
    {
        var tokens = host.Services.GetRequiredService<IApiTokens>();
        var created = await tokens.CreateAsync("revoke-me", [AccessScopes.Read], null, AuthHost.Tester);
        var client = host.Bearer(created.Secret);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/executions")).StatusCode);

        Assert.True(await tokens.RevokeAsync(created.Token.Id, AuthHost.Tester));

        await AuthHost.ProblemAsync(await client.GetAsync("/api/executions"), HttpStatusCode.Unauthorized, "revoked token");
        Assert.False(await tokens.RevokeAsync(created.Token.Id, AuthHost.Tester));
    }

    [Fact]
    public async Task AnExpiredToken_IsRefused()
    {
        var tokens = host.Services.GetRequiredService<IApiTokens>();
        var created = await tokens.CreateAsync("expires", [AccessScopes.Read], DateTimeOffset.UtcNow.AddDays(1), AuthHost.Tester);
        var client = host.Bearer(created.Secret);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/executions")).StatusCode);

        // Its expiry passes (moved back in the database rather than waiting a day).
        await using (var db = await host.Services.GetRequiredService<IDbContextFactory<AccessDbContext>>().CreateDbContextAsync())
            await db.ApiTokens.Where(t => t.Id == created.Token.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1)));

        await AuthHost.ProblemAsync(await client.GetAsync("/api/executions"), HttpStatusCode.Unauthorized, "expired token");
    }

    [Fact]
    public async Task ATokenIsStoredHashed_ShownOnce_AndRecordsItsLastUse()
    {
        var tokens = host.Services.GetRequiredService<IApiTokens>();
        var created = await tokens.CreateAsync("hashed", [AccessScopes.Read], null, AuthHost.Tester);
        Assert.StartsWith("tdk_", created.Secret);
        Assert.Null(created.Token.LastUsedAt);

        await host.Bearer(created.Secret).GetAsync("/api/executions");

        await using var db = await host.Services.GetRequiredService<IDbContextFactory<AccessDbContext>>().CreateDbContextAsync();
        var row = await db.ApiTokens.SingleAsync(t => t.Id == created.Token.Id);
        Assert.Equal(SecretTokens.Hash(created.Secret), row.Hash);
        Assert.DoesNotContain(created.Secret, row.Hash + row.Prefix + row.Name);
        Assert.NotNull(row.LastUsedAt);
        var listed = (await tokens.ListAsync()).Single(t => t.Id == created.Token.Id);
        Assert.Equal(created.Secret[..12], listed.Prefix);
    }

    [Theory]
    [InlineData("", "read", "name")]
    [InlineData("bad-scope", "read,root", "scopes")]
    [InlineData("no-scope", "", "scopes")]
    public async Task ABadTokenRequest_NamesTheField(string name, string scopes, string field)
    {
        var tokens = host.Services.GetRequiredService<IApiTokens>();

        var e = await Assert.ThrowsAsync<AccessRequestException>(() =>
            tokens.CreateAsync(name, scopes.Split(',', StringSplitOptions.RemoveEmptyEntries), null, AuthHost.Tester));

        Assert.Equal(field, e.Field);
    }
}
