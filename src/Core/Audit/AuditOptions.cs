using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Audit;

/// <summary><c>Taskdeck:Audit</c>.</summary>
public sealed class AuditOptions
{
    public const string Section = "Taskdeck:Audit";

    /// <summary>Entries older than this are deleted in the background.</summary>
    public int RetentionDays { get; set; } = 365;

    /// <summary>How often old entries are looked for.</summary>
    public int PruneIntervalMinutes { get; set; } = 60;
}

public sealed class ValidateAuditOptions : IValidateOptions<AuditOptions>
{
    // About a century: far past any retention policy, and keeps "now - days" inside DateTimeOffset's range.
    public const int MaxRetentionDays = 36_500;

    public ValidateOptionsResult Validate(string? name, AuditOptions o)
    {
        var errors = new List<string>();
        if (o.RetentionDays is < 1 or > MaxRetentionDays) errors.Add($"Taskdeck:Audit:RetentionDays must be between 1 and {MaxRetentionDays}.");
        if (o.PruneIntervalMinutes is < 1 or > 7 * 24 * 60) errors.Add("Taskdeck:Audit:PruneIntervalMinutes must be between 1 and 10080 (a week).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
