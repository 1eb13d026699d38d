using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Console.CrossSite;
using Taskdeck.Core.Access;
using Taskdeck.Core.Audit;
using Taskdeck.Data.Audit;
using Taskdeck.Unit.Auth;

namespace Taskdeck.Unit.Hardening;

/// <summary>
/// <c>/api/admin/users</c> and <c>/api/admin/tokens</c> with sign-in required: only Admin gets in, bad input is a
/// ProblemDetails naming the field, each change is audited once with the caller, and a token's secret is shown once
/// and stops working when revoked. Cookie calls need the antiforgery token of the signed-in user.
/// </summary>
[Collection(AuthCollection.Name)]
public sealed class AdminApiTests(AuthHost host)
{
    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    private async Task<(HttpClient Client, string TokenName)> AdminTokenAsync()
    {
        var name = Unique("admin-token");
        var created = await host.Services.GetRequiredService<IApiTokens>().CreateAsync(name, [AccessScopes.Read, AccessScopes.Admin], null, AuthHost.Tester);
        // Tokens act under their name, marked as a token ("token:NAME"), so a person and a token of the same name differ.
        return (host.Bearer(created.Secret), "token:" + name);
    }

    /// <summary>Audit entries are written through the write queue: wait for them, with a deadline.</summary>
    private async Task<IReadOnlyList<AuditEntry>> AuditAsync(string action, string record, int atLeast = 1)
    {
        var queries = host.Services.GetRequiredService<AuditQueries>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var page = await queries.PageAsync(new AuditFilter { Action = action, RecordId = record }, 0, 50);
            if (page.Items.Count >= atLeast || DateTime.UtcNow > deadline) return page.Items;
            await Task.Delay(50);
        }
    }

    [Theory]
    [InlineData("GET", "/api/admin/users")]
    [InlineData("POST", "/api/admin/users")]
    [InlineData("DELETE", "/api/admin/users/someone")]
    [InlineData("GET", "/api/admin/tokens")]
    [InlineData("POST", "/api/admin/tokens")]
    [InlineData("DELETE", "/api/admin/tokens/1")]
    public async Task NoCredentials_Is401_AndOperatorsAndReadTokens_Are403(string method, string path)
    {
        HttpRequestMessage Request() => new(new HttpMethod(method), path) { Content = method == "POST" ? AuthHost.Json(new JsonObject()) : null };
        await AuthHost.ProblemAsync(await host.Anonymous().SendAsync(Request()), HttpStatusCode.Unauthorized, $"anonymous {method} {path}");
        var operatorToken = host.Bearer(await host.TokenAsync(AccessScopes.Read, AccessScopes.Operate, AccessScopes.Submit, AccessScopes.Commands));
        await AuthHost.ProblemAsync(await operatorToken.SendAsync(Request()), HttpStatusCode.Forbidden, $"non-admin token {method} {path}");
        var (operatorCookie, _) = await host.SignedInAsync(AccessRoles.Operator);
        await AuthHost.ProblemAsync(await operatorCookie.SendAsync(new HttpRequestMessage(HttpMethod.Get, path)), HttpStatusCode.Forbidden, $"operator GET {path}");
    }

    [Fact]
    public async Task Admin_CreatesChangesAndDeletesAUser_EachAuditedOnce_AsTheToken()
    {
        var (admin, tokenName) = await AdminTokenAsync();
        var name = Unique("olivia");

        var created = await admin.PostAsJsonAsync("/api/admin/users", new { name, role = "operator", password = AuthHost.Password });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var user = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(name, (string?)user["name"]);
        Assert.Equal(AccessRoles.Operator, (string?)user["role"]);
        Assert.Contains(await admin.GetFromJsonAsync<JsonArray>("/api/admin/users") ?? [], u => (string?)u!["name"] == name);

        // The new user can sign in with the initial password.
        using var person = host.Anonymous();
        Assert.Equal(HttpStatusCode.Redirect, (await AuthHost.PostLoginAsync(person, name, AuthHost.Password)).StatusCode);

        var changed = await admin.PatchAsJsonAsync($"/api/admin/users/{name}", new { role = "Viewer" });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(AccessRoles.Viewer, (string?)(await changed.Content.ReadFromJsonAsync<JsonObject>())!["role"]);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/users/{name}")).StatusCode);
        await AuthHost.ProblemAsync(await admin.DeleteAsync($"/api/admin/users/{name}"), HttpStatusCode.NotFound, "second delete");
        await AuthHost.ProblemAsync(await admin.GetAsync($"/api/admin/users/{name}"), HttpStatusCode.NotFound, "get deleted");

        foreach (var action in new[] { AuditActions.CreateUser, AuditActions.UpdateUser, AuditActions.DeleteUser })
        {
            var entries = await AuditAsync(action, name);
            var entry = Assert.Single(entries);
            Assert.Equal(tokenName, entry.ActorName);
            Assert.Equal(ActorKind.ApiToken, entry.ActorKind);
            Assert.Equal(AuditRecordTypes.User, entry.RecordType);
        }
    }

    [Theory]
    [InlineData("{\"role\": \"Operator\", \"password\": \"correct horse battery\"}", "name")]
    [InlineData("{\"name\": \"x-user\", \"role\": \"Overlord\", \"password\": \"correct horse battery\"}", "role")]
    [InlineData("{\"name\": \"x-user\", \"role\": \"Viewer\"}", "password")]
    [InlineData("{\"name\": \"x-user\", \"role\": \"Viewer\", \"password\": \"short\"}", "password")]
    [InlineData("[1, 2]", null)]
    public async Task BadUserInput_Is400_NamingTheField_AndCreatesNobody(string json, string? field)
    {
        var (admin, _) = await AdminTokenAsync();
        var before = (await admin.GetFromJsonAsync<JsonArray>("/api/admin/users"))!.Count;
        var response = await admin.PostAsync("/api/admin/users", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var problem = await AuthHost.ProblemAsync(response, HttpStatusCode.BadRequest, json);
        if (field is not null) Assert.Equal(field, (string?)problem["field"]);
        Assert.Equal(before, (await admin.GetFromJsonAsync<JsonArray>("/api/admin/users"))!.Count);
    }

    [Fact]
    public async Task TheLastAdmin_CannotBeDeletedOrDemoted()
    {
        var (admin, _) = await AdminTokenAsync();
        var admins = (await admin.GetFromJsonAsync<JsonArray>("/api/admin/users"))!.Where(u => (string?)u!["role"] == AccessRoles.Admin).Select(u => (string)u!["name"]!).ToList();
        // Leave exactly one admin: delete the others this collection made (a fresh one if there are none).
        if (admins.Count == 0) admins.Add(await host.UserAsync(AccessRoles.Admin));
        foreach (var other in admins.Skip(1)) Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/users/{other}")).StatusCode);
        var last = admins[0];

        await AuthHost.ProblemAsync(await admin.DeleteAsync($"/api/admin/users/{last}"), HttpStatusCode.Conflict, "delete last admin");
        await AuthHost.ProblemAsync(await admin.PatchAsJsonAsync($"/api/admin/users/{last}", new { role = "Viewer" }), HttpStatusCode.BadRequest, "demote last admin");
        Assert.Equal(AccessRoles.Admin, (string?)(await admin.GetFromJsonAsync<JsonObject>($"/api/admin/users/{last}"))!["role"]);
    }

    [Fact]
    public async Task Admin_CreatesAToken_SecretShownOnce_Works_ThenRevokedIsRefused()
    {
        var (admin, tokenName) = await AdminTokenAsync();
        var name = Unique("nightly-ci");
        var created = await admin.PostAsJsonAsync("/api/admin/tokens", new { name, scopes = new[] { "read", "operate" }, expiresAt = DateTimeOffset.UtcNow.AddDays(30) });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        var secret = (string)body["secret"]!;
        var id = (long)body["token"]!["id"]!;
        Assert.StartsWith(ApiTokenInfo.SecretPrefix, secret);
        Assert.Equal(["read", "operate"], body["token"]!["scopes"]!.AsArray().Select(s => (string)s!));

        // The secret is in that answer only: the list and the token's own page never show it.
        var listed = await admin.GetStringAsync("/api/admin/tokens");
        Assert.DoesNotContain(secret, listed);
        Assert.DoesNotContain(secret, await admin.GetStringAsync($"/api/admin/tokens/{id}"));

        var automation = host.Bearer(secret);
        Assert.Equal(HttpStatusCode.OK, (await automation.GetAsync("/api/executions")).StatusCode);
        Assert.NotNull((await admin.GetFromJsonAsync<JsonObject>($"/api/admin/tokens/{id}"))!["lastUsedAt"]);

        var revoked = await admin.DeleteAsync($"/api/admin/tokens/{id}");
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.False((bool)(await revoked.Content.ReadFromJsonAsync<JsonObject>())!["active"]!);
        await AuthHost.ProblemAsync(await automation.GetAsync("/api/executions"), HttpStatusCode.Unauthorized, "revoked token");
        await AuthHost.ProblemAsync(await admin.DeleteAsync($"/api/admin/tokens/{id}"), HttpStatusCode.Conflict, "second revoke");
        await AuthHost.ProblemAsync(await admin.DeleteAsync("/api/admin/tokens/999999999"), HttpStatusCode.NotFound, "unknown token");

        foreach (var action in new[] { AuditActions.CreateToken, AuditActions.RevokeToken })
        {
            var entries = await AuditAsync(action, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (entries.Count == 0) entries = await AuditAsync(action, name);
            var entry = Assert.Single(entries);
            Assert.Equal(tokenName, entry.ActorName);
        }
    }

    [Theory]
    [InlineData("{\"scopes\": [\"read\"]}", "name")]
    [InlineData("{\"name\": \"t\", \"scopes\": []}", "scopes")]
    [InlineData("{\"name\": \"t\", \"scopes\": [\"read\", \"root\"]}", "scopes")]
    [InlineData("{\"name\": \"t\", \"scopes\": [\"read\"], \"expiresAt\": \"2001-01-01T00:00:00Z\"}", "expiresAt")]
    public async Task BadTokenInput_Is400_NamingTheField(string json, string field)
    {
        var (admin, _) = await AdminTokenAsync();
        var response = await admin.PostAsync("/api/admin/tokens", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var problem = await AuthHost.ProblemAsync(response, HttpStatusCode.BadRequest, json);
        Assert.Equal(field, (string?)problem["field"]);
    }

    [Fact]
    public async Task TokenScopes_AreReadAsCoreReadsThem_UpperCaseIncluded()
    {
        // The API leaves input rules to IApiTokens: what the CLI and the Tokens page accept, the API accepts.
        var (admin, _) = await AdminTokenAsync();
        var created = await admin.PostAsJsonAsync("/api/admin/tokens", new { name = Unique("upper"), scopes = new[] { "READ", "Submit" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(["read", "submit"], (await created.Content.ReadFromJsonAsync<JsonObject>())!["token"]!["scopes"]!.AsArray().Select(s => (string)s!));
    }

    [Fact]
    public async Task SignedInAdmin_CookieCall_NeedsTheAntiforgeryTokenIssuedToThem()
    {
        var (admin, adminName) = await host.SignedInAsync(AccessRoles.Admin);
        admin.DefaultRequestHeaders.Remove(CrossSiteGuard.AntiforgeryHeader);
        var name = Unique("via-cookie");
        HttpRequestMessage Create(string? token)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/users") { Content = JsonContent.Create(new { name, role = "Viewer", password = AuthHost.Password }) };
            if (token is not null) request.Headers.Add(CrossSiteGuard.AntiforgeryHeader, token);
            return request;
        }

        var refused = await AuthHost.ProblemAsync(await admin.SendAsync(Create(null)), HttpStatusCode.BadRequest, "cookie call without token");
        Assert.Equal(CrossSiteGuard.AntiforgeryHeader, (string?)refused["field"]);

        // A token issued to another signed-in person is not this one's.
        var (other, _) = await host.SignedInAsync(AccessRoles.Admin);
        other.DefaultRequestHeaders.Remove(CrossSiteGuard.AntiforgeryHeader);
        var othersToken = (string)(await other.GetFromJsonAsync<JsonObject>(AntiforgeryApi.Route))!["requestToken"]!;
        await AuthHost.ProblemAsync(await admin.SendAsync(Create(othersToken)), HttpStatusCode.BadRequest, "someone else's token");
        Assert.Empty(await AuditAsync(AuditActions.CreateUser, name, atLeast: 0));

        var token = (string)(await admin.GetFromJsonAsync<JsonObject>(AntiforgeryApi.Route))!["requestToken"]!;
        var created = await admin.SendAsync(Create(token));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var entry = Assert.Single(await AuditAsync(AuditActions.CreateUser, name));
        Assert.Equal(adminName, entry.ActorName);
        Assert.Equal(ActorKind.User, entry.ActorKind);
    }
}
