using Microsoft.Extensions.Options;

namespace Taskdeck.Console.Health;

/// <summary><c>Taskdeck:Health</c>: when this node stops being ready.</summary>
public sealed class HealthOptions
{
    public const string Section = "Taskdeck:Health";

    /// <summary>A check that has not answered by then has failed (a database that hangs is not ready).</summary>
    public int TimeoutSeconds { get; set; } = 5;
    /// <summary>The oldest write still waiting in the group-commit queue may be this old.</summary>
    public int MaxWriteQueueLagSeconds { get; set; } = 30;
    /// <summary>Multi-node storage: other nodes' changes may reach this node this late.</summary>
    public int MaxChangeFollowerLagSeconds { get; set; } = 30;
    /// <summary>This node's Hangfire server must have beaten within this (Hangfire beats every 30 s).</summary>
    public int MaxHangfireHeartbeatAgeSeconds { get; set; } = 90;
}

public sealed class ValidateHealthOptions : IValidateOptions<HealthOptions>
{
    public ValidateOptionsResult Validate(string? name, HealthOptions o)
    {
        var errors = new List<string>();
        if (o.TimeoutSeconds < 1) errors.Add($"{HealthOptions.Section}:TimeoutSeconds must be 1 or more (is {o.TimeoutSeconds}).");
        if (o.MaxWriteQueueLagSeconds < 1) errors.Add($"{HealthOptions.Section}:MaxWriteQueueLagSeconds must be 1 or more (is {o.MaxWriteQueueLagSeconds}).");
        if (o.MaxChangeFollowerLagSeconds < 1) errors.Add($"{HealthOptions.Section}:MaxChangeFollowerLagSeconds must be 1 or more (is {o.MaxChangeFollowerLagSeconds}).");
        if (o.MaxHangfireHeartbeatAgeSeconds < 31)
            errors.Add($"{HealthOptions.Section}:MaxHangfireHeartbeatAgeSeconds must be more than Hangfire's 30 s heartbeat (is {o.MaxHangfireHeartbeatAgeSeconds}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
