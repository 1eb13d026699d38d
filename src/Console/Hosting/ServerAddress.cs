using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Taskdeck.Console.Hosting;

/// <summary>The address this server answers on, as a process on the same machine opens it.</summary>
public static class ServerAddress
{
    /// <summary>Before the server listens (no address known yet): the port the console is configured for by default.</summary>
    public const string Default = "http://localhost:5066";

    /// <summary>The first http address listened on (else the first of any kind), a wildcard host read as localhost.</summary>
    public static string Local(IServer server)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.FirstOrDefault();
        if (address is null) return Default;
        return address.Replace("://+", "://localhost").Replace("://*", "://localhost").Replace("://0.0.0.0", "://localhost").Replace("://[::]", "://localhost");
    }
}
