using System.Text;

namespace Taskdeck.Core.Secrets;

/// <summary>
/// The values a running command was given that must not be read back from its logs (as GitHub Actions masks its
/// secrets): the values of its secret-looking environment variables and of every <c>{{secret:NAME}}</c> it referenced.
/// Each occurrence in what the process prints becomes <see cref="SecretText.Mask"/> before the text is stored or shown.
/// </summary>
public sealed class SecretMask
{
    /// <summary>Shorter values are not masked: masking "1" or "on" would garble every log and hide nothing.</summary>
    public const int MinLength = 4;

    public static readonly SecretMask None = new([]);

    // Longest first, so a value that contains another is masked whole.
    private readonly string[] _values;

    public SecretMask(IEnumerable<string> values)
    {
        _values = values.Where(v => v.Length >= MinLength).Distinct(StringComparer.Ordinal).OrderByDescending(v => v.Length).ToArray();
    }

    public bool IsEmpty => _values.Length == 0;

    /// <summary>
    /// The values a command gets from its spec's environment (<c>NAME=value</c> entries whose names look secret, with
    /// references resolved) and from the references anywhere in its arguments or environment.
    /// </summary>
    public static SecretMask For(SecretOptions options, IEnumerable<string> arguments, IEnumerable<string> environment,
        IReadOnlyDictionary<string, string>? extraEnvironment = null)
    {
        var values = new List<string>();
        foreach (var entry in environment)
        {
            var eq = entry.IndexOf('=');
            if (eq <= 0 || !SecretText.LooksSecret(options, entry[..eq])) continue;
            try { values.Add(SecretText.Resolve(options, entry[(eq + 1)..])); }
            catch (KeyNotFoundException) { }
        }
        foreach (var name in SecretText.References(arguments.Concat(environment)))
            if (options.Values.TryGetValue(name, out var value)) values.Add(value);
        if (extraEnvironment is not null)
            values.AddRange(extraEnvironment.Where(p => SecretText.LooksSecret(options, p.Key)).Select(p => p.Value));
        return values.Count == 0 ? None : new SecretMask(values);
    }

    /// <summary>The whole text with every value masked.</summary>
    public string Apply(string text)
    {
        if (IsEmpty) return text;
        var (masked, _) = Scan(text, text.Length);
        return masked;
    }

    /// <summary>
    /// Masks the values that start before <paramref name="end"/>; answers the masked text and the index where scanning
    /// stopped (at or past <paramref name="end"/>: a value starting before it is taken whole).
    /// </summary>
    internal (string Masked, int Stop) Scan(string text, int end)
    {
        StringBuilder? output = null;
        var copiedUpTo = 0;
        var i = 0;
        while (i < end)
        {
            var match = MatchAt(text, i);
            if (match == 0) { i++; continue; }
            output ??= new StringBuilder(text.Length);
            output.Append(text, copiedUpTo, i - copiedUpTo).Append(SecretText.Mask);
            i += match;
            copiedUpTo = i;
        }
        var stop = Math.Max(i, end);
        if (output is null) return (text[..stop], stop);
        output.Append(text, copiedUpTo, stop - copiedUpTo);
        return (output.ToString(), stop);
    }

    /// <summary>
    /// The length of the longest end of <paramref name="text"/> that is the start of a value but not all of it: what the
    /// next read may complete into a value. Zero for almost every line a process prints.
    /// </summary>
    internal int PrefixAtEnd(string text)
    {
        var longest = 0;
        foreach (var value in _values)
            for (var length = Math.Min(value.Length - 1, text.Length); length > longest; length--)
                if (string.CompareOrdinal(text, text.Length - length, value, 0, length) == 0)
                {
                    longest = length;
                    break;
                }
        return longest;
    }

    private int MatchAt(string text, int at)
    {
        var c = text[at];
        foreach (var value in _values)
            if (value[0] == c && string.CompareOrdinal(text, at, value, 0, value.Length) == 0 && at + value.Length <= text.Length)
                return value.Length;
        return 0;
    }
}

/// <summary>
/// One output stream of a process, masked as it is read: reads arrive in arbitrary pieces, so an end of a read that is
/// the start of a value is held back until the next read (or the end) shows whether the value continues there.
/// </summary>
public sealed class MaskedWriter(SecretMask mask, Action<string> write)
{
    private string _pending = "";

    public void Write(string chunk)
    {
        if (mask.IsEmpty) { write(chunk); return; }
        var text = _pending + chunk;
        // Only a tail that could still become a value is held back: a live log must not lag by a token's length.
        var end = text.Length - mask.PrefixAtEnd(text);
        if (end <= 0) { _pending = text; return; }
        var (masked, stop) = mask.Scan(text, end);
        _pending = text[stop..];
        if (masked.Length > 0) write(masked);
    }

    /// <summary>The end of the stream: what was held back, masked.</summary>
    public void Flush()
    {
        if (_pending.Length == 0) return;
        var rest = mask.Apply(_pending);
        _pending = "";
        write(rest);
    }
}
