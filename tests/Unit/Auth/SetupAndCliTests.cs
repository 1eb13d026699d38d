using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Console.Auth;
using Taskdeck.Console.Cli;
using Taskdeck.Core.Access;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.Auth;

/// <summary>A fresh start: no administrator, so a one-time set-up link; and the command line for scripted set-ups.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FreshStartCollection
{
    public const string Name = "Auth (fresh start)";
}

[Collection(FreshStartCollection.Name)]
public sealed class SetupAndCliTests
{
    [Fact]
    public async Task TheSetupLink_CreatesTheFirstAdministrator_Once()
    {
        await using var host = new AuthHost();
        var token = host.Services.GetRequiredService<FirstRunSetup>().Token;
        Assert.NotNull(token);
        var client = host.Anonymous();

        var page = await client.GetStringAsync($"/login?setup={token}");
        Assert.Contains("Create the first administrator", page);
        var response = await PostSetupAsync(client, token!, "root-admin");

        Assert.Equal("/", response.Headers.Location?.OriginalString);
        var trail = JsonNode.Parse(await client.GetStringAsync("/api/audit?actor=root-admin"))!["items"]!.AsArray();
        Assert.Equal(["auth.sign-in", "auth.setup", "user.create"], trail.Select(e => (string?)e!["action"]));
        Assert.Null(host.Services.GetRequiredService<FirstRunSetup>().Token);

        // The same link again: refused, and nobody else becomes an administrator.
        var again = host.Anonymous();
        Assert.Contains("already been used", await again.GetStringAsync($"/login?setup={token}"));
        Assert.Equal("/login?error=setup-used", (await PostSetupAsync(again, token!, "second-admin")).Headers.Location?.OriginalString);
        await using var scope = host.Services.CreateAsyncScope();
        Assert.Equal(["root-admin"], (await scope.ServiceProvider.GetRequiredService<IUserAdmin>().ListAsync()).Select(u => u.Name));
    }

    [Fact]
    public async Task TheSetupForm_RefusesAShortPassword_AndKeepsTheLink()
    {
        await using var host = new AuthHost();
        var token = host.Services.GetRequiredService<FirstRunSetup>().Token!;
        var client = host.Anonymous();

        var response = await PostSetupAsync(client, token, "admin", "short");

        Assert.Equal($"/login?setup={token}&error=password", response.Headers.Location?.OriginalString);
        Assert.Contains("at least 10 characters", await client.GetStringAsync(response.Headers.Location!.OriginalString));
        Assert.Equal(token, host.Services.GetRequiredService<FirstRunSetup>().Token);
    }

    private static async Task<HttpResponseMessage> PostSetupAsync(HttpClient client, string token, string name, string password = AuthHost.Password)
    {
        var form = await AuthHost.FormTokenAsync(client, $"/login?setup={token}");
        return await client.PostAsync("/login/setup", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = form, ["setup"] = token, ["username"] = name, ["password"] = password, ["confirm"] = password,
        }));
    }

    [Fact]
    public async Task TheRealConsole_PrintsTheLink_AndTheCommandLine_AddsAUserAndAToken()
    {
        var folder = Directory.CreateTempSubdirectory("taskdeck-cli-").FullName;
        var database = Path.Combine(folder, "taskdeck.db");
        try
        {
            var settings = new Dictionary<string, string> { ["ConnectionStrings:Taskdeck"] = $"Data Source={database}", ["Taskdeck:Auth:Anonymous"] = "None" };
            await using (var node = await ConsoleProcess.StartAsync(settings))
            {
                var link = await WaitForAsync(() => System.Text.RegularExpressions.Regex.Match(node.Output, @"http://\S+/login\?setup=([0-9a-f]+)"), m => m.Success, "the set-up link in the log");
                Assert.StartsWith($"http://127.0.0.1:{node.Port}/login?setup=", link.Value);
                Assert.Contains("Create the first administrator", await node.Http.GetStringAsync(new Uri(link.Value).PathAndQuery));
                Assert.Equal(HttpStatusCode.Unauthorized, (await node.Http.GetAsync("/api/executions")).StatusCode);
            }

            var add = await RunCliAsync(database, "carol-password-1\n", "users", "add", "carol", "--role", "Operator");
            Assert.True(add.Code == 0, add.Error);
            Assert.Contains("User carol added (Operator).", add.Output);
            var create = await RunCliAsync(database, "", "tokens", "create", "ci", "--scopes", "read,operate", "--expires", "30d");
            Assert.True(create.Code == 0, create.Error);
            var secret = create.Output.Trim();
            Assert.StartsWith("tdk_", secret);
            Assert.Contains("shown only this once", create.Error);
            var auditor = (await RunCliAsync(database, "", "tokens", "create", "auditor", "--scopes", "admin")).Output.Trim();
            var refused = await RunCliAsync(database, "", "tokens", "create", "bad", "--scopes", "read,root");
            Assert.Equal(2, refused.Code);
            Assert.Contains("scopes: Unknown scope 'root'", refused.Error);

            await using (var node = await ConsoleProcess.StartAsync(new Dictionary<string, string>(settings)))
            {
                var client = new HttpClient { BaseAddress = node.Http.BaseAddress };
                client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/executions")).StatusCode);
                Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/api/tasks", AuthHost.Json(new JsonObject { ["task"] = "demo.noop" }))).StatusCode);
                Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/api/audit")).StatusCode);

                // The command line's acts are in the audit trail, as the OS user who ran it.
                client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", auditor);
                var trail = JsonNode.Parse(await client.GetStringAsync("/api/audit?kind=System"))!["items"]!.AsArray();
                Assert.Equal(["token.create", "token.create", "user.create"], trail.Select(e => (string?)e!["action"]));
                Assert.All(trail, e =>
                {
                    Assert.StartsWith("cli:", (string?)e!["actor"]);
                    Assert.Equal("cli", (string?)e["address"]);
                });
                Assert.Equal(["carol"], trail[2]!["recordIds"]!.AsArray().Select(i => (string?)i));
            }

            var list = await RunCliAsync(database, "", "tokens", "list");
            Assert.Matches(@"ci\tread,operate\ttdk_\S+…\tactive\tlast used \d{4}-", list.Output);
            var users = await RunCliAsync(database, "", "users", "list");
            Assert.Contains("carol\tOperator", users.Output);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Theory]
    [InlineData("30d", 30 * 24 * 60)]
    [InlineData("12h", 12 * 60)]
    [InlineData("90m", 90)]
    public void AnExpiry_IsReadAsALengthOfTime(string text, int minutes)
    {
        var now = new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);

        Assert.Equal(now.AddMinutes(minutes), TaskdeckCli.ParseExpiry(text, now));
        Assert.Equal(new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero), TaskdeckCli.ParseExpiry("2027-01-31", now));
        Assert.Equal("expires", Assert.Throws<AccessRequestException>(() => TaskdeckCli.ParseExpiry("soon", now)).Field);
    }

    private static async Task<(int Code, string Output, string Error)> RunCliAsync(string database, string input, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(ConsoleProcess.ConsoleDll())!,
        };
        start.ArgumentList.Add(ConsoleProcess.ConsoleDll());
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["ConnectionStrings__Taskdeck"] = $"Data Source={database}";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await output, await error);
    }

    private static async Task<T> WaitForAsync<T>(Func<T> read, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            var value = read();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Waited for " + what);
            await Task.Delay(100);
        }
    }
}
