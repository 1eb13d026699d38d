using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Schedules;
using Taskdeck.Core.Workers;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Core;

public static class TaskdeckCoreServices
{
    /// <summary>The engine: state machine, executors, dispatch, leases and recovery. Storage comes from Data.</summary>
    public static IServiceCollection AddTaskdeckCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TaskdeckOptions>()
            .Bind(configuration.GetSection(TaskdeckOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TaskdeckOptions>, ValidateTaskdeckOptions>();
        services.AddSingleton<IValidateOptions<TaskdeckOptions>, Limits.ValidateLimitOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ExecutionEvents>();
        services.AddSingleton<ExecutionTransitions>();
        services.AddSingleton<RetryElection>();
        services.AddSingleton<ExecutionService>();
        services.AddSingleton<ExecutionDispatcher>();
        services.AddSingleton<WaitingJobs>();
        services.AddSingleton<BusyWorkers>();
        services.AddSingleton<IExecutionObserver>(sp => sp.GetRequiredService<WaitingJobs>());
        services.AddSingleton<IRemoteChangeObserver>(sp => sp.GetRequiredService<WaitingJobs>());
        services.TryAddSingleton<IExecutionTransport, Dispatch.HangfireQueue.HangfireTransport>();
        // The host that picks the Hangfire storage names that storage's own failures (the Console's HangfireSetup).
        services.TryAddSingleton(Dispatch.HangfireQueue.HangfireStorageFailures.None);
        services.AddTransient<Dispatch.HangfireQueue.ExecutionBatchJob>();
        services.AddSingleton<DispatchBacklog>();
        services.AddHostedService(sp => sp.GetRequiredService<DispatchBacklog>());
        services.AddSingleton<NodeIdentity>();
        services.AddSingleton<RunningWork>();
        services.AddSingleton<CommandRunner>();
        services.AddHostedService<CommandDoorWarnings>();
        services.AddSingleton<ExecutionRunner>();
        services.AddTransient<ExecutionJob>();
        services.AddSingleton<NodeCapacity>();
        services.AddSingleton<CapacityGate>();
        services.TryAddSingleton<IAdmissionGate>(sp => sp.GetRequiredService<CapacityGate>());
        services.AddHostedService<AdmissionWaker>();
        services.AddTaskdeckWorkTasks(configuration);
        services.TryAddSingleton<ICommandLaunch, PlainCommandLaunch>();
        services.AddSingleton<LogSink>();
        services.AddHostedService(sp => sp.GetRequiredService<LogSink>());
        services.AddSingleton<LeaseKeeper>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaseKeeper>());
        services.AddSingleton<Reconciler>();
        services.AddHostedService(sp => sp.GetRequiredService<Reconciler>());
        services.TryAddSingleton<IChangeSignal, PollingChangeSignal>();
        services.TryAddSingleton<IEventBroadcast, LocalOnlyBroadcast>();
        services.AddSingleton<IRemoteChangeObserver, RemoteCancelRelay>();
        services.AddSingleton<ChangeFollower>();
        services.AddHostedService(sp => sp.GetRequiredService<ChangeFollower>());
        services.AddDemoHandlers();
        services.AddTaskdeckDags();
        services.AddTaskdeckAudit(configuration);
        services.AddTaskdeckSchedules(configuration);
        return services;
    }
}

/// <summary>A wrong setting stops the start with a message that names it.</summary>
public sealed class ValidateTaskdeckOptions : IValidateOptions<TaskdeckOptions>
{
    public ValidateOptionsResult Validate(string? name, TaskdeckOptions o)
    {
        var errors = new List<string>();
        if (o.Leases.HeartbeatSeconds <= 0) errors.Add("Taskdeck:Leases:HeartbeatSeconds must be more than 0.");
        if (o.Leases.ExpirySeconds <= o.Leases.HeartbeatSeconds) errors.Add("Taskdeck:Leases:ExpirySeconds must be more than HeartbeatSeconds.");
        if (o.Logs.MaxBytesPerStream < 1024) errors.Add("Taskdeck:Logs:MaxBytesPerStream must be at least 1024.");
        if (o.Node.Cores <= 0) errors.Add("Taskdeck:Node:Cores must be more than 0.");
        if (o.Node.MemoryMB <= 0) errors.Add("Taskdeck:Node:MemoryMB must be more than 0.");
        if (o.Node.Gpus < 0) errors.Add("Taskdeck:Node:Gpus must be 0 or more.");
        if (o.Node.WorkerCount <= 0) errors.Add("Taskdeck:Node:WorkerCount must be more than 0.");
        if (o.Dispatch.MaxBatch is < 1 or > 1000) errors.Add("Taskdeck:Dispatch:MaxBatch must be between 1 and 1000.");
        if (o.Dispatch.HandBackMilliseconds is < 10 or > 600_000) errors.Add("Taskdeck:Dispatch:HandBackMilliseconds must be between 10 and 600000.");
        if (o.Commands.KillGraceSeconds is < 0 or > 600) errors.Add("Taskdeck:Commands:KillGraceSeconds must be between 0 and 600.");
        if (o.Scheduling.CatchUpCap < 1) errors.Add("Taskdeck:Scheduling:CatchUpCap must be at least 1.");
        if (o.Scheduling.MisfireGraceSeconds < 1) errors.Add("Taskdeck:Scheduling:MisfireGraceSeconds must be at least 1.");
        if (o.Storage.ChangePollMilliseconds is < 50 or > 3_600_000) errors.Add("Taskdeck:Storage:ChangePollMilliseconds must be between 50 and 3600000.");
        if (o.Scheduling.ChangePollMilliseconds < 50) errors.Add("Taskdeck:Scheduling:ChangePollMilliseconds must be at least 50.");
        if (o.Commands.Enabled && o.Commands.Allow.Count == 0) errors.Add("Taskdeck:Commands:Allow must list executables (or \"*\") when commands are enabled.");
        foreach (var entry in o.Commands.Allow.Where(a => a != "*" && !Path.IsPathFullyQualified(a)))
            errors.Add($"Taskdeck:Commands:Allow: '{entry}' is not an absolute path (a bare name would allow any file of that name).");
        foreach (var root in o.Commands.WorkingDirectories.Where(d => !Path.IsPathFullyQualified(d)))
            errors.Add($"Taskdeck:Commands:WorkingDirectories: '{root}' is not an absolute path.");
        if (string.IsNullOrWhiteSpace(o.Commands.Path) || o.Commands.Path.Split(':').Any(d => !Path.IsPathFullyQualified(d)))
            errors.Add("Taskdeck:Commands:Path must be absolute folders separated by ':'.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
