using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Taskdeck.Core.Secrets;

/// <summary>
/// Redaction and <c>{{secret:NAME}}</c> references. Every place a run is shown (the three APIs, the console, the executor
/// log) redacts through here, so "what looks secret" is decided once.
/// </summary>
public static partial class SecretText
{
    public const string Mask = "***";

    [GeneratedRegex(@"\{\{\s*secret:([A-Za-z0-9_.\-]+)\s*\}\}")]
    private static partial Regex Reference();

    /// <summary>Whether a variable (or JSON property) name matches one of the patterns.</summary>
    public static bool LooksSecret(SecretOptions options, string name) => options.CompiledPatterns.Match(name);

    /// <summary><c>NAME=value</c> with the value masked when the name looks secret; a <c>{{secret:…}}</c> reference is kept (it holds no value).</summary>
    public static string RedactEntry(SecretOptions options, string entry)
    {
        var eq = entry.IndexOf('=');
        if (eq <= 0) return entry;
        var value = entry[(eq + 1)..];
        if (!LooksSecret(options, entry[..eq]) || IsOnlyReference(value)) return entry;
        return entry[..(eq + 1)] + Mask;
    }

    public static List<string> RedactEnvironment(SecretOptions options, IEnumerable<string> environment) =>
        environment.Select(e => RedactEntry(options, e)).ToList();

    private static bool IsOnlyReference(string value) => Reference().Match(value) is { Success: true } m && m.Length == value.Trim().Length;

    /// <summary>
    /// A JSON document with the values of secret-looking properties masked, and <c>NAME=value</c> strings redacted as
    /// environment entries (a work task's <c>task_spec</c> carries either).
    /// </summary>
    public static string? RedactJson(SecretOptions options, string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return json;
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (System.Text.Json.JsonException) { return json; }
        return Redact(options, node) ? node!.ToJsonString() : json;
    }

    private static bool Redact(SecretOptions options, JsonNode? node)
    {
        var changed = false;
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, child) in o.ToList())
                {
                    if (LooksSecret(options, name) && child is JsonValue v && !(v.TryGetValue<string>(out var s) && IsOnlyReference(s)))
                    {
                        o[name] = Mask;
                        changed = true;
                    }
                    else changed |= RedactChild(options, child, value => o[name] = value);
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    var index = i;
                    changed |= RedactChild(options, a[i], value => a[index] = value);
                }
                break;
        }
        return changed;
    }

    private static bool RedactChild(SecretOptions options, JsonNode? child, Action<string> replace)
    {
        if (child is JsonValue value && value.TryGetValue<string>(out var text))
        {
            var redacted = RedactEntry(options, text);
            if (ReferenceEquals(redacted, text)) return false;
            replace(redacted);
            return true;
        }
        return Redact(options, child);
    }

    /// <summary>Every <c>{{secret:NAME}}</c> referenced in these texts.</summary>
    public static IEnumerable<string> References(IEnumerable<string> texts)
    {
        foreach (var text in texts)
        {
            if (!text.Contains("{{", StringComparison.Ordinal)) continue;
            foreach (Match m in Reference().Matches(text)) yield return m.Groups[1].Value;
        }
    }

    /// <summary>The first referenced secret with no configured value, if any.</summary>
    public static string? FirstUnknown(SecretOptions options, IEnumerable<string> texts) =>
        References(texts).FirstOrDefault(name => !options.Values.ContainsKey(name));

    /// <summary>The text with every reference replaced by its value: only at process start, never stored.</summary>
    public static string Resolve(SecretOptions options, string text) =>
        !text.Contains("{{", StringComparison.Ordinal) ? text : Reference().Replace(text, m =>
            options.Values.TryGetValue(m.Groups[1].Value, out var value)
                ? value
                : throw new KeyNotFoundException($"unknown secret '{m.Groups[1].Value}' ({SecretOptions.ValueKey(m.Groups[1].Value)} is not set)"));
}

/// <summary>
/// <see cref="SecretOptions.NamePatterns"/> split at <c>*</c> once, not for every name tested (every environment entry
/// of every DTO shown); <c>*</c> matches any run of characters, compared without regard to case.
/// </summary>
internal sealed class SecretNamePatterns
{
    private readonly List<string> _source;
    private readonly string[] _patterns;
    private readonly string[][] _parts;

    public SecretNamePatterns(List<string> source)
    {
        _source = source;
        _patterns = [.. source];
        _parts = _patterns.Select(p => p.Split('*')).ToArray();
    }

    /// <summary>Whether these were built from this list as it stands (a configured list is filled before its first use).</summary>
    public bool IsFor(List<string> list)
    {
        if (!ReferenceEquals(list, _source) || list.Count != _patterns.Length) return false;
        for (var i = 0; i < _patterns.Length; i++)
            if (!ReferenceEquals(list[i], _patterns[i])) return false;
        return true;
    }

    public bool Match(string name)
    {
        for (var i = 0; i < _parts.Length; i++)
            if (Matches(_patterns[i], _parts[i], name)) return true;
        return false;
    }

    private static bool Matches(string pattern, string[] parts, string name)
    {
        if (parts.Length == 1) return string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);
        var at = 0;
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (part.Length == 0) continue;
            if (i == 0)
            {
                if (!name.StartsWith(part, StringComparison.OrdinalIgnoreCase)) return false;
                at = part.Length;
                continue;
            }
            if (i == parts.Length - 1)
                return name.Length - part.Length >= at && name.EndsWith(part, StringComparison.OrdinalIgnoreCase);
            var found = name.IndexOf(part, at, StringComparison.OrdinalIgnoreCase);
            if (found < 0) return false;
            at = found + part.Length;
        }
        return true;
    }
}
