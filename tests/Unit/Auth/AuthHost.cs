using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Access;
using Taskdeck.Core.Audit;

namespace Taskdeck.Unit.Auth;

/// <summary>One host with sign-in required (Anonymous = None): the doors, roles and tokens tests share it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AuthCollection : ICollectionFixture<AuthHost>
{
    public const string Name = "Auth (sign-in required)";
}

/// <summary>
/// The real app on a temp SQLite file with <c>Taskdeck:Auth:Anonymous</c> = None, three failures before a lockout,
/// a worker token, and commands allowed (<c>/bin/true</c>), so every door can be tried with and without credentials.
/// </summary>
public class AuthHost : WebApplicationFactory<Program>
{
    public const string Password = "correct horse battery";
    public const string WorkerSecret = "worker-secret-for-tests";

    public AuthHost() : this(new Dictionary<string, string?>()) { }

    protected AuthHost(IReadOnlyDictionary<string, string?> settings)
    {
        Folder = Path.Combine(Path.GetTempPath(), "taskdeck-auth-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Folder);
        Settings = settings;
    }

    public string Folder { get; }
    private IReadOnlyDictionary<string, string?> Settings { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("ConnectionStrings:Taskdeck", $"Data Source={Path.Combine(Folder, "taskdeck.db")}");
        builder.UseSetting("Taskdeck:Demo:Enabled", "false");
        builder.UseSetting("Taskdeck:Auth:Anonymous", "None");
        builder.UseSetting("Taskdeck:Auth:Lockout:MaxFailures", "3");
        builder.UseSetting("Taskdeck:Auth:WorkerToken", WorkerSecret);
        builder.UseSetting("Taskdeck:Commands:Enabled", "true");
        builder.UseSetting("Taskdeck:Commands:Allow:0", "/bin/true");
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
    }

    public static readonly Actor Tester = new("tests", ActorKind.System);

    /// <summary>A user of that role (a fresh name each call).</summary>
    public async Task<string> UserAsync(string role, string? name = null)
    {
        name ??= role.ToLowerInvariant() + "-" + Guid.NewGuid().ToString("N")[..6];
        await using var scope = Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IUserAdmin>().AddAsync(name, Password, role, Tester);
        return name;
    }

    /// <summary>A client that does not follow redirects, so a test sees where it is sent.</summary>
    public HttpClient Anonymous() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    public HttpClient Bearer(string secret)
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return client;
    }

    public async Task<string> TokenAsync(params string[] scopes) =>
        (await Services.GetRequiredService<IApiTokens>().CreateAsync("t-" + Guid.NewGuid().ToString("N")[..8], scopes, null, Tester)).Secret;

    /// <summary>Signs in through the real form (GET /login for its antiforgery token, POST /login); answers the POST.</summary>
    public static async Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string name, string password, string? returnUrl = null)
    {
        var form = await FormTokenAsync(client, "/login");
        var fields = new Dictionary<string, string> { ["__RequestVerificationToken"] = form, ["username"] = name, ["password"] = password };
        if (returnUrl is not null) fields["ReturnUrl"] = returnUrl;
        return await client.PostAsync("/login", new FormUrlEncodedContent(fields));
    }

    /// <summary>A client signed in with the console's cookie as a new user of that role.</summary>
    public async Task<(HttpClient Client, string Name)> SignedInAsync(string role)
    {
        var name = await UserAsync(role);
        var client = Anonymous();
        var response = await PostLoginAsync(client, name, Password);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location?.OriginalString);
        // As the console's own scripts do: API calls with the cookie carry the antiforgery token.
        var token = JsonNode.Parse(await client.GetStringAsync("/api/antiforgery/token"))!;
        client.DefaultRequestHeaders.Add((string)token["headerName"]!, (string)token["requestToken"]!);
        return (client, name);
    }

    public static async Task<string> FormTokenAsync(HttpClient client, string page)
    {
        var html = await client.GetStringAsync(page);
        var match = Regex.Match(html, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"");
        Assert.True(match.Success, $"{page} has no antiforgery token:\n{html[..Math.Min(html.Length, 2000)]}");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    /// <summary>Asserts a ProblemDetails with that status, and answers it.</summary>
    public static async Task<JsonObject> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string what)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{what}: expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal((int)status, (int)problem["status"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["detail"]), $"{what}: the problem says nothing: {body}");
        return problem;
    }

    public async Task<long> SubmitWaitingAsync()
    {
        var client = Bearer(await TokenAsync(AccessScopes.Submit));
        var response = await client.PostAsync("/api/tasks", Json(new JsonObject { ["task"] = "demo.noop", ["runAt"] = DateTimeOffset.UtcNow.AddHours(1) }));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (long)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!;
    }

    public static StringContent Json(JsonNode node) => new(node.ToJsonString(), System.Text.Encoding.UTF8, "application/json");

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
