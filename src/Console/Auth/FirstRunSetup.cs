using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting.Server;
using Taskdeck.Console.Hosting;
using Taskdeck.Core.Access;

namespace Taskdeck.Console.Auth;

/// <summary>
/// The one-time set-up link of a console that has no administrator yet (as the Aspire dashboard prints its sign-in
/// link): a random token, made at start, printed to the log as <c>http://localhost:5066/login?setup=&lt;token&gt;</c>,
/// good until it is used or the process stops. Opening it asks for the first administrator's name and password.
/// </summary>
public sealed class FirstRunSetup
{
    private string? _token;

    /// <summary>The token while the link is still good.</summary>
    public string? Token => Volatile.Read(ref _token);

    internal void Offer() => Interlocked.CompareExchange(ref _token, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)), null);

    public bool IsValid(string? presented)
    {
        var token = Token;
        return token is not null && presented is not null
               && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(token), System.Text.Encoding.UTF8.GetBytes(presented));
    }

    /// <summary>Withdraws the link (an administrator now exists some other way).</summary>
    public void Withdraw() => Volatile.Write(ref _token, null);

    public static string Link(string baseUrl, string token) => $"{baseUrl.TrimEnd('/')}{AuthResponses.LoginPath}?setup={token}";
}

/// <summary>At start: when no user holds the Admin role, offers the set-up link and prints it once the server listens.</summary>
public sealed class FirstRunSetupAnnouncer(FirstRunSetup setup, IServiceScopeFactory scopes, IServer server, IHostApplicationLifetime lifetime,
    ILogger<FirstRunSetup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        if (await scope.ServiceProvider.GetRequiredService<IUserAdmin>().AnyAdminAsync(cancellationToken)) return;
        setup.Offer();
        lifetime.ApplicationStarted.Register(() =>
        {
            if (setup.Token is not { } token) return;
            logger.LogWarning("No administrator exists yet. Open {Link} to create the first one (the link works once, until this process stops).",
                FirstRunSetup.Link(ServerAddress.Local(server), token));
        });
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
