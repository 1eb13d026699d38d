using System.Security.Cryptography;
using System.Text;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.Auth;

/// <summary>
/// The shared secret between Taskdeck and its workers (seed 003's worker token): <c>Taskdeck:Auth:WorkerToken</c>, else
/// the <c>WORKER_AUTH_TOKEN</c> environment variable (the seed's name). When set, the work-task routes demand it from outside workers. No command ever
/// sees it: spawned workers get a token of their own for their attempt (<see cref="WorkerAttemptTokens"/>).
/// </summary>
public sealed class WorkerToken(IConfiguration configuration)
{
    private readonly string? _value = Resolve(configuration);

    public string? Value => _value;
    public bool Required => _value is not null;

    private static string? Resolve(IConfiguration configuration)
    {
        var value = configuration["Taskdeck:Auth:WorkerToken"];
        if (string.IsNullOrEmpty(value)) value = configuration["WORKER_AUTH_TOKEN"];
        if (string.IsNullOrEmpty(value)) value = System.Environment.GetEnvironmentVariable("WORKER_AUTH_TOKEN");
        return string.IsNullOrEmpty(value) ? null : value;
    }

    /// <summary>
    /// Constant-time comparison, so response timing does not reveal how much of a guess was right; comparing hashes
    /// keeps the length of the secret out of the timing too.
    /// </summary>
    public bool Matches(string? presented)
    {
        if (_value is null) return true;
        if (presented is null) return false;
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(_value)));
    }
}
