using System.Globalization;
using System.Text;
using Taskdeck.Console.Hosting;
using Taskdeck.Core.Access;
using Taskdeck.Core.Audit;
using Taskdeck.Data.Storage;

namespace Taskdeck.Console.Cli;

/// <summary>
/// <c>dotnet run --project src/Console -- users add NAME --role Admin</c> (password from standard input) and
/// <c>-- tokens create NAME --scopes read,operate [--expires 30d]</c> (prints the secret once), for scripted set-ups.
/// Works on the configured database, migrating it first, and exits without starting the server. Acts are audited as
/// <c>cli:&lt;OS user&gt;</c>.
/// </summary>
public static class TaskdeckCli
{
    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "users" or "tokens";

    public const string Usage = """
        Usage:
          users add NAME [--role Viewer|Operator|Admin]      password from standard input (default role: Viewer)
          users list
          users role NAME ROLE
          users delete NAME
          tokens create NAME --scopes read,operate,submit,commands,admin [--expires 30d|12h|2027-01-31]
          tokens list
          tokens revoke ID
        """;

    public static async Task<int> RunAsync(string[] args, TextReader input, TextWriter output, TextWriter error, string[]? hostArgs = null)
    {
        var builder = WebApplication.CreateBuilder(hostArgs ?? []);
        var root = builder.Configuration.AddRootSettings(builder.Environment.ContentRootPath);
        // Standard output carries only the answer (a token's secret is read from it by scripts); logs go to standard error.
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Warning).AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IAuditTrail, AuditTrail>();
        builder.Services.AddTaskdeckData(builder.Configuration, root);
        await using var app = builder.Build();
        try
        {
            await TaskdeckDataServices.MigrateAsync(app.Services);
            await using var scope = app.Services.CreateAsyncScope();
            var actor = new Actor("cli:" + Environment.UserName, ActorKind.System, "cli");
            return (args.ElementAtOrDefault(0), args.ElementAtOrDefault(1)) switch
            {
                ("users", "add") => await AddUserAsync(args, scope.ServiceProvider.GetRequiredService<IUserAdmin>(), actor, input, output),
                ("users", "list") => await ListUsersAsync(scope.ServiceProvider.GetRequiredService<IUserAdmin>(), output),
                ("users", "role") when args.Length >= 4 => await SetRoleAsync(args[2], args[3], scope.ServiceProvider.GetRequiredService<IUserAdmin>(), actor, output),
                ("users", "delete") when args.Length >= 3 => await DeleteUserAsync(args[2], scope.ServiceProvider.GetRequiredService<IUserAdmin>(), actor, output),
                ("tokens", "create") => await CreateTokenAsync(args, scope.ServiceProvider.GetRequiredService<IApiTokens>(), actor, output, error),
                ("tokens", "list") => await ListTokensAsync(scope.ServiceProvider.GetRequiredService<IApiTokens>(), output),
                ("tokens", "revoke") when args.Length >= 3 && long.TryParse(args[2], out var id) =>
                    await scope.ServiceProvider.GetRequiredService<IApiTokens>().RevokeAsync(id, actor) ? Done(output, $"Token {id} revoked.") : Fail(error, $"No active token {id}."),
                _ => Fail(error, Usage),
            };
        }
        catch (AccessRequestException e)
        {
            return Fail(error, $"{e.Field}: {e.Message}");
        }
        catch (ArgumentException e)
        {
            return Fail(error, e.Message);
        }
    }

    private static async Task<int> AddUserAsync(string[] args, IUserAdmin users, Actor actor, TextReader input, TextWriter output)
    {
        if (args.Length < 3 || args[2].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException("users add NAME [--role ROLE]: the name is missing.");
        var role = Option(args, "--role") ?? AccessRoles.Viewer;
        var password = ReadPassword(input, output);
        var user = await users.AddAsync(args[2], password, role, actor);
        return Done(output, $"User {user.Name} added ({user.Role}).");
    }

    private static async Task<int> ListUsersAsync(IUserAdmin users, TextWriter output)
    {
        foreach (var u in await users.ListAsync())
            output.WriteLine($"{u.Name}\t{u.Role}{(u.LockedOutUntil is { } until ? $"\tlocked until {until:u}" : "")}");
        return 0;
    }

    private static async Task<int> SetRoleAsync(string name, string role, IUserAdmin users, Actor actor, TextWriter output)
    {
        var user = await users.SetRoleAsync(name, role, actor);
        return Done(output, $"User {user.Name} is now {user.Role}.");
    }

    private static async Task<int> DeleteUserAsync(string name, IUserAdmin users, Actor actor, TextWriter output) =>
        await users.DeleteAsync(name, actor) ? Done(output, $"User {name} deleted.") : throw new AccessRequestException("name", $"No user is named '{name}'.");

    private static async Task<int> CreateTokenAsync(string[] args, IApiTokens tokens, Actor actor, TextWriter output, TextWriter error)
    {
        if (args.Length < 3 || args[2].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException("tokens create NAME --scopes LIST: the name is missing.");
        var scopes = (Option(args, "--scopes") ?? throw new ArgumentException("tokens create NAME --scopes read,operate,…: --scopes is required."))
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var expires = Option(args, "--expires") is { } text ? ParseExpiry(text, DateTimeOffset.UtcNow) : (DateTimeOffset?)null;
        var created = await tokens.CreateAsync(args[2], scopes, expires, actor);
        output.WriteLine(created.Secret);
        await error.WriteLineAsync($"Token {created.Token.Id} '{created.Token.Name}' ({string.Join(",", created.Token.Scopes)})"
            + (expires is { } e ? $", expires {e:u}" : ", no expiry") + ". The secret above is shown only this once.");
        return 0;
    }

    private static async Task<int> ListTokensAsync(IApiTokens tokens, TextWriter output)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var t in await tokens.ListAsync())
            output.WriteLine($"{t.Id}\t{t.Name}\t{string.Join(",", t.Scopes)}\t{t.Prefix}…\t{(t.RevokedAt is not null ? "revoked" : t.IsActive(now) ? "active" : "expired")}"
                             + $"\tlast used {(t.LastUsedAt is { } used ? used.ToString("u") : "never")}");
        return 0;
    }

    /// <summary><c>30d</c>, <c>12h</c>, <c>90m</c>, or an ISO 8601 date/time.</summary>
    public static DateTimeOffset ParseExpiry(string text, DateTimeOffset now)
    {
        text = text.Trim();
        if (text.Length >= 2 && int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (char.ToLowerInvariant(text[^1]))
            {
                case 'd': return now.AddDays(n);
                case 'h': return now.AddHours(n);
                case 'm': return now.AddMinutes(n);
            }
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return at;
        throw new AccessRequestException("expires", $"'{text}' is not an expiry: use 30d, 12h, 90m or an ISO 8601 time.");
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>The password: one line from standard input; typed at a terminal, without echo.</summary>
    private static string ReadPassword(TextReader input, TextWriter output)
    {
        if (!ReferenceEquals(input, System.Console.In) || System.Console.IsInputRedirected) return input.ReadLine() ?? "";
        output.Write("Password: ");
        var text = new StringBuilder();
        while (true)
        {
            var key = System.Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace) { if (text.Length > 0) text.Length--; }
            else if (!char.IsControl(key.KeyChar)) text.Append(key.KeyChar);
        }
        output.WriteLine();
        return text.ToString();
    }

    private static int Done(TextWriter output, string message)
    {
        output.WriteLine(message);
        return 0;
    }

    private static int Fail(TextWriter error, string message)
    {
        error.WriteLine(message);
        return 2;
    }
}
