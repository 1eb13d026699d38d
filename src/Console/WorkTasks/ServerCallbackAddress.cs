using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Hosting;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.WorkTasks;

/// <summary>
/// Spawned workers call back to <c>Taskdeck:WorkTasks:OrchestratorUrl</c> when set, else to the address this server
/// listens on (read when a worker starts, so port 0 resolves to the real port); a wildcard host becomes localhost.
/// </summary>
public sealed class ServerCallbackAddress(IServer server, IOptions<WorkTaskOptions> options) : IWorkerCallbackAddress
{
    public string BaseUrl => options.Value.OrchestratorUrl ?? ServerAddress.Local(server);
}
