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
    public static bool LooksSecret(SecretOptions options, string name)
    {
        foreach (var pattern in options.NamePatterns)
            if (Matches(pattern, name)) return true;
        return false;
    }

    private static bool Matches(string pattern, string name)
    {
        var parts = pattern.Split('*');
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
