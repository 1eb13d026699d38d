using Microsoft.Extensions.Options;

namespace Taskdeck.Console.CrossSite;

/// <summary>
/// Browser origins, besides the node's own, whose pages may call the API's state-changing routes and open
/// <c>/ws/tasks</c> (<c>Taskdeck:Auth:AllowedOrigins</c>): e.g. the work-task platform's dashboard.
/// </summary>
public sealed class CrossSiteOptions
{
    public const string Section = "Taskdeck:Auth";

    public static string Key(string property) => $"{Section}:{property}";

    /// <summary>Absolute origins, <c>scheme://host[:port]</c>, compared case-insensitively.</summary>
    public string[] AllowedOrigins { get; set; } = [];
}

/// <summary>A wrong origin stops the start with the setting's name: a typo would otherwise refuse a dashboard silently.</summary>
public sealed class ValidateCrossSiteOptions : IValidateOptions<CrossSiteOptions>
{
    public ValidateOptionsResult Validate(string? name, CrossSiteOptions options)
    {
        var failures = new List<string>();
        for (var i = 0; i < options.AllowedOrigins.Length; i++)
        {
            var value = options.AllowedOrigins[i];
            if (!Origins.TryParse(value, out _))
                failures.Add($"{CrossSiteOptions.Key(nameof(CrossSiteOptions.AllowedOrigins))}:{i} = \"{value}\" is not an origin: write scheme://host[:port] (http or https, no path), e.g. https://platform.example.com.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
