using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.WorkTasks;

/// <summary>
/// Spawned workers call back to <c>Taskdeck:WorkTasks:OrchestratorUrl</c> when set, else to the address this server
/// listens on (read when a worker starts, so port 0 resolves to the real port); a wildcard host becomes localhost.
/// </summary>
public sealed class ServerCallbackAddress(IServer server, IOptions<WorkTaskOptions> options) : IWorkerCallbackAddress
{
    public string BaseUrl
    {
        get
        {
            if (options.Value.OrchestratorUrl is { } configured) return configured;
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.FirstOrDefault();
            if (address is null) return "http://localhost:5066";
            return address.Replace("://+", "://localhost").Replace("://*", "://localhost").Replace("://0.0.0.0", "://localhost").Replace("://[::]", "://localhost");
        }
    }
}
