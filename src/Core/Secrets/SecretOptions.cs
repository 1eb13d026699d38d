namespace Taskdeck.Core.Secrets;

/// <summary>
/// <c>Taskdeck:Secrets</c>: which environment names are redacted wherever a run is shown, and the values a spec may
/// reference as <c>{{secret:NAME}}</c> (resolved only when a process starts, never stored in the run).
/// </summary>
public sealed class SecretOptions
{
    /// <summary>Name patterns, <c>*</c> as a wildcard, compared without regard to case.</summary>
    public List<string> NamePatterns { get; set; } = ["*SECRET*", "*TOKEN*", "*PASSWORD*", "*KEY*"];

    /// <summary><c>Taskdeck:Secrets:Values:NAME</c>: what <c>{{secret:NAME}}</c> becomes when a command starts.</summary>
    public Dictionary<string, string> Values { get; set; } = new(StringComparer.Ordinal);

    private SecretNamePatterns? _compiled;

    /// <summary>The patterns split once; built again only if <see cref="NamePatterns"/> changed since (it does not once bound at start).</summary>
    internal SecretNamePatterns CompiledPatterns => _compiled is { } c && c.IsFor(NamePatterns) ? c : _compiled = new SecretNamePatterns(NamePatterns);

    public static string ValueKey(string name) => $"{TaskdeckOptions.Section}:Secrets:Values:{name}";
}
