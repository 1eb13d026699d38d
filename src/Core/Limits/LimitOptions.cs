using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Limits;

/// <summary>
/// <c>Taskdeck:Dags</c>: how big one DAG run may grow. Checked from the spec's parameter counts before anything is
/// expanded, so an 889-byte spec asking for 10¹² tasks is refused in microseconds instead of filling the heap.
/// </summary>
public sealed class DagOptions
{
    /// <summary>Tasks of one run after parameter expansion (Airflow caps one mapped task at 1,024; a run holds many).</summary>
    public int MaxTasks { get; set; } = 100_000;
    /// <summary>Parent → child edges of one run after expansion (a fan-out × fan-in of two templates multiplies).</summary>
    public int MaxEdges { get; set; } = 1_000_000;
    /// <summary>Tasks one generator attempt may add to its run.</summary>
    public int MaxGeneratedTasks { get; set; } = 10_000;
}

/// <summary>
/// <c>Taskdeck:Limits</c>: the bounds every request is held to. Each is refused up front with a 400 (or 413 for a
/// body) whose ProblemDetails names the setting in <c>limit</c>, so an operator knows which knob to turn.
/// </summary>
public sealed class LimitOptions
{
    /// <summary>A retry count past this is a storm, not a policy (Hangfire's default is 10).</summary>
    public int MaxRetries { get; set; } = 100;
    public int MaxRetryIntervalSeconds { get; set; } = 86_400;
    public int MaxTimeoutSeconds { get; set; } = 7 * 86_400;
    /// <summary>How far ahead <c>runAt</c> may be: a year-9999 start is a typo that would sit in every scheduled list forever.</summary>
    public int RunAtHorizonDays { get; set; } = 366;
    /// <summary>Handler names, queues, DAG tags and task names (the database holds 400).</summary>
    public int MaxNameLength { get; set; } = 200;
    public int MaxTagLength { get; set; } = 100;
    public int MaxTags { get; set; } = 20;
    /// <summary>Arguments, command and environment entries together, per execution.</summary>
    public int MaxSpecBytes { get; set; } = 256 * 1024;
    /// <summary>Every API request body, enforced by Kestrel.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;
    /// <summary>DAG submit and validate bodies (a 100,000-task spec is a few MB).</summary>
    public long MaxDagRequestBodyBytes { get; set; } = 16 * 1024 * 1024;
    /// <summary>The most rows any list answers at once (<c>limit</c>, daggy's <c>/v1/dagruns</c>).</summary>
    public int MaxPageSize { get; set; } = 1000;
    /// <summary>Ids one bulk request may name (<c>POST /api/executions/bulk</c>); a filter reaches any number.</summary>
    public int MaxBulkIds { get; set; } = 100_000;

    public const string Section = "Taskdeck:Limits";
    public static string Key(string name) => $"{Section}:{name}";
}

/// <summary>A limit set to nothing (or less) would refuse everything or nothing: stop the start and name it.</summary>
public sealed class ValidateLimitOptions : IValidateOptions<TaskdeckOptions>
{
    public ValidateOptionsResult Validate(string? name, TaskdeckOptions o)
    {
        var errors = new List<string>();
        void AtLeast(long value, long min, string key)
        {
            if (value < min) errors.Add($"{key} must be at least {min} (it is {value}).");
        }
        AtLeast(o.Dags.MaxTasks, 1, "Taskdeck:Dags:MaxTasks");
        AtLeast(o.Dags.MaxEdges, 0, "Taskdeck:Dags:MaxEdges");
        AtLeast(o.Dags.MaxGeneratedTasks, 1, "Taskdeck:Dags:MaxGeneratedTasks");
        var l = o.Limits;
        AtLeast(l.MaxRetries, 0, LimitOptions.Key(nameof(l.MaxRetries)));
        AtLeast(l.MaxRetryIntervalSeconds, 0, LimitOptions.Key(nameof(l.MaxRetryIntervalSeconds)));
        AtLeast(l.MaxTimeoutSeconds, 1, LimitOptions.Key(nameof(l.MaxTimeoutSeconds)));
        AtLeast(l.RunAtHorizonDays, 1, LimitOptions.Key(nameof(l.RunAtHorizonDays)));
        AtLeast(l.MaxNameLength, 8, LimitOptions.Key(nameof(l.MaxNameLength)));
        if (l.MaxNameLength > 400) errors.Add($"{LimitOptions.Key(nameof(l.MaxNameLength))} must be at most 400 (the database column's size).");
        AtLeast(l.MaxTagLength, 1, LimitOptions.Key(nameof(l.MaxTagLength)));
        AtLeast(l.MaxTags, 0, LimitOptions.Key(nameof(l.MaxTags)));
        AtLeast(l.MaxSpecBytes, 1024, LimitOptions.Key(nameof(l.MaxSpecBytes)));
        AtLeast(l.MaxRequestBodyBytes, 1024, LimitOptions.Key(nameof(l.MaxRequestBodyBytes)));
        AtLeast(l.MaxDagRequestBodyBytes, 1024, LimitOptions.Key(nameof(l.MaxDagRequestBodyBytes)));
        AtLeast(l.MaxPageSize, 10, LimitOptions.Key(nameof(l.MaxPageSize)));
        AtLeast(l.MaxBulkIds, 1, LimitOptions.Key(nameof(l.MaxBulkIds)));
        AtLeast(o.Retry.ImmediateRetries, 0, "Taskdeck:Retry:ImmediateRetries");
        AtLeast(o.Retry.MinimumBackoffSeconds, 0, "Taskdeck:Retry:MinimumBackoffSeconds");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>The rules a piece of text must meet before it is stored: length and no control characters (NUL included).</summary>
public static class TextRules
{
    /// <summary>Why <paramref name="value"/> cannot be a name (null when it can).</summary>
    public static string? NameProblem(string value, int maxLength, string what)
    {
        if (value.Length > maxLength) return $"{what} is {value.Length} characters long; at most {maxLength} are allowed.";
        for (var i = 0; i < value.Length; i++)
            if (char.IsControl(value[i]))
                return $"{what} holds a control character (U+{(int)value[i]:X4} at position {i}); names are printable text.";
        return null;
    }

    /// <summary>NUL ends a C string: in an argument or environment entry it would silently cut what the process sees.</summary>
    public static bool HasNul(string value) => value.Contains('\0');

    /// <summary>What a NUL in free text (output, an error message, a worker's report) is stored as.</summary>
    public const char NulStoredAs = '\uFFFD';

    /// <summary>
    /// Free text as every store can keep it: PostgreSQL's text cannot hold a NUL, and a statement carrying one failed —
    /// a worker's failure report answered 500 and was not recorded. Names are refused instead (<see cref="NameProblem"/>).
    /// </summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(text))]
    public static string? Storable(string? text) => text is not null && text.Contains('\0') ? text.Replace('\0', NulStoredAs) : text;
}
