using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Hosting;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.WorkTasks;

/// <summary>
/// Spawned workers call back to <c>Taskdeck:WorkTasks:OrchestratorUrl</c> when set, else to the address this server
/// listens on (read when a worker starts, so port 0 resolves to the real port); a wildcard host becomes localhost.
/// The server is looked up then, not when this is built: a host without one (the bench's engine, a test's storage
/// host) still runs every other execution — the runner's launch preparation depends on this address.
/// </summary>
public sealed class ServerCallbackAddress(IServiceProvider services, IOptions<WorkTaskOptions> options) : IWorkerCallbackAddress
{
    public string BaseUrl => options.Value.OrchestratorUrl
        ?? (services.GetService(typeof(IServer)) is IServer server
            ? ServerAddress.Local(server)
            : throw new InvalidOperationException("This host serves no HTTP: set Taskdeck:WorkTasks:OrchestratorUrl for spawned workers to call back on"));
}
