using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Executors;

/// <summary>Says at every start what the command door lets through when that is more than a list of fixed programs.</summary>
public sealed class CommandDoorWarnings(IOptions<TaskdeckOptions> options, ILogger<CommandDoorWarnings> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var commands = options.Value.Commands;
        if (!commands.Enabled) return Task.CompletedTask;
        if (commands.AllowsAny)
            logger.LogWarning("Taskdeck:Commands:Allow contains \"*\": any executable on this server may be run by anyone who may submit commands");
        foreach (var entry in commands.Allow.Where(a => a != "*"))
        {
            var real = CommandDoor.RealPath(entry);
            if (real is null) logger.LogWarning("Taskdeck:Commands:Allow lists {Entry}, which does not exist on this server", entry);
            else if (CommandDoor.IsInterpreter(real))
                logger.LogWarning("Taskdeck:Commands:Allow lists {Entry} ({Real}), which runs whatever code it is handed: anyone who may submit commands can run anything", entry, real);
        }
        if (!CommandRunner.RunsInOwnSession)
            logger.LogWarning("No setsid(1) or /proc here: commands do not get a process group of their own, and a stop kills only their process tree");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
