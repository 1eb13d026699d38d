using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.WorkTasks;

public static class WorkTaskServices
{
    /// <summary>The work-task queue: typed tasks bound to handlers, spawned workers or external workers.</summary>
    public static IServiceCollection AddTaskdeckWorkTasks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WorkTaskOptions>().Bind(configuration.GetSection(WorkTaskOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WorkTaskOptions>, ValidateWorkTaskOptions>();
        services.AddSingleton<ICommandLaunch, WorkerLaunch>();
        services.AddSingleton<WorkTaskService>();
        services.AddHostedService<WorkTaskTimeouts>();
        return services;
    }
}

/// <summary>A wrong binding stops the start with a message naming its key, rather than failing each submit later.</summary>
public sealed class ValidateWorkTaskOptions(IServiceProvider services) : IValidateOptions<WorkTaskOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkTaskOptions o)
    {
        var errors = new List<string>();
        var handlers = services.GetService<TaskHandlerRegistry>();
        var commands = services.GetService<IOptions<TaskdeckOptions>>()?.Value.Commands;
        foreach (var (type, binding) in o.Types)
        {
            var at = $"{WorkTaskOptions.Section}:Types:{type}";
            if (!string.IsNullOrWhiteSpace(binding.Handler) && binding.Command.Count > 0) errors.Add($"{at}: give a Handler or a Command, not both.");
            if (!string.IsNullOrWhiteSpace(binding.Handler) && handlers is not null && !handlers.Contains(binding.Handler.Trim()))
                errors.Add($"{at}:Handler '{binding.Handler}' is not a registered handler (known: {string.Join(", ", handlers.Names)}).");
            if (binding.Command.Count > 0 && commands is not null && CommandDoor.CheckExecutable(commands, binding.Command[0], out _) is { } refused)
                errors.Add($"{at}:Command runs '{binding.Command[0]}', which Taskdeck:Commands does not allow: {refused}");
            if (binding.MaxRetries is < 0) errors.Add($"{at}:MaxRetries must be 0 or more.");
            if (binding.TimeoutSeconds is <= 0) errors.Add($"{at}:TimeoutSeconds must be more than 0.");
            if (binding.RetryIntervalSeconds < 0) errors.Add($"{at}:RetryIntervalSeconds must be 0 or more.");
        }
        if (o.OrchestratorUrl is { } url && !Uri.TryCreate(url, UriKind.Absolute, out _)) errors.Add($"{WorkTaskOptions.Section}:OrchestratorUrl must be an absolute URL.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
