using System.Globalization;
using System.Text;

namespace Taskdeck.Unit.WorkTasks;

/// <summary>
/// A strict parser for the Prometheus text exposition format 0.0.4: metric/label name grammar, label value escapes,
/// float values (NaN, ±Inf) and optional integer timestamps, at most one HELP and one TYPE per family with TYPE before
/// its samples, families contiguous, no duplicate series, and histogram consistency (cumulative buckets ending in
/// <c>le="+Inf"</c> equal to <c>_count</c>, with a <c>_sum</c>). Any violation throws <see cref="FormatException"/>.
/// </summary>
public static class PrometheusText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed class Family(string name)
    {
        public string Name { get; } = name;
        public string Type { get; set; } = "untyped";
        public string? Help { get; set; }
        public List<Sample> Samples { get; } = [];
        public bool TypeSeen { get; set; }
    }

    private static readonly string[] Types = ["counter", "gauge", "histogram", "summary", "untyped"];

    public static Dictionary<string, Family> Parse(string text)
    {
        var families = new Dictionary<string, Family>();
        var closed = new HashSet<string>();
        var series = new HashSet<string>();
        string? current = null;
        var lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw;
            if (line.Length == 0) continue;
            if (line.EndsWith('\r')) throw new FormatException($"line {lineNo}: carriage return; lines end with \\n only");
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[0] == "#" && parts[1] is "HELP" or "TYPE")
                {
                    var name = parts[2];
                    if (!IsMetricName(name)) throw new FormatException($"line {lineNo}: bad metric name '{name}'");
                    var family = Enter(name);
                    if (parts[1] == "HELP")
                    {
                        if (family.Help is not null) throw new FormatException($"line {lineNo}: second HELP for {name}");
                        family.Help = parts.Length == 4 ? Unescape(parts[3], help: true, lineNo) : "";
                    }
                    else
                    {
                        if (family.TypeSeen) throw new FormatException($"line {lineNo}: second TYPE for {name}");
                        if (family.Samples.Count > 0) throw new FormatException($"line {lineNo}: TYPE for {name} after its samples");
                        if (parts.Length != 4 || !Types.Contains(parts[3])) throw new FormatException($"line {lineNo}: bad TYPE line '{line}'");
                        family.Type = parts[3];
                        family.TypeSeen = true;
                    }
                }
                continue; // other comments are allowed
            }

            var (sampleName, labels, value) = ParseSample(line, lineNo);
            var owner = FamilyOf(sampleName, families);
            var fam = Enter(owner);
            var key = sampleName + "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            if (!series.Add(key)) throw new FormatException($"line {lineNo}: duplicate series {key}");
            if (fam.Type == "counter" && (value < 0 || double.IsNaN(value))) throw new FormatException($"line {lineNo}: counter {sampleName} is {value}");
            fam.Samples.Add(new Sample(sampleName, labels, value));
        }
        foreach (var family in families.Values.Where(f => f.Type == "histogram")) CheckHistogram(family);
        return families;

        Family Enter(string name)
        {
            if (current != name)
            {
                if (current is not null) closed.Add(current);
                if (closed.Contains(name)) throw new FormatException($"line {lineNo}: family {name} is not contiguous");
                current = name;
            }
            if (!families.TryGetValue(name, out var family)) families[name] = family = new Family(name);
            return family;
        }
    }

    /// <summary>A histogram's _bucket/_sum/_count samples belong to the family named without the suffix.</summary>
    private static string FamilyOf(string sample, Dictionary<string, Family> families)
    {
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
            if (sample.EndsWith(suffix, StringComparison.Ordinal) && families.TryGetValue(sample[..^suffix.Length], out var f) && f.Type is "histogram" or "summary")
                return f.Name;
        return sample;
    }

    private static void CheckHistogram(Family h)
    {
        foreach (var s in h.Samples)
            if (s.Name != h.Name + "_bucket" && s.Name != h.Name + "_sum" && s.Name != h.Name + "_count")
                throw new FormatException($"histogram {h.Name} has a foreign sample {s.Name}");
        static string Group(Sample s) => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
        foreach (var group in h.Samples.GroupBy(Group))
        {
            var buckets = group.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal))
                .Select(s => (Le: s.Labels.TryGetValue("le", out var le) ? ParseFloat(le) : throw new FormatException($"{h.Name}: bucket without le"), s.Value))
                .OrderBy(b => b.Le).ToList();
            if (buckets.Count == 0 || !double.IsPositiveInfinity(buckets[^1].Le)) throw new FormatException($"{h.Name}{{{group.Key}}}: no le=\"+Inf\" bucket");
            for (var i = 1; i < buckets.Count; i++)
                if (buckets[i].Value < buckets[i - 1].Value) throw new FormatException($"{h.Name}{{{group.Key}}}: buckets are not cumulative");
            var count = group.SingleOrDefault(s => s.Name == h.Name + "_count") ?? throw new FormatException($"{h.Name}{{{group.Key}}}: no _count");
            _ = group.SingleOrDefault(s => s.Name == h.Name + "_sum") ?? throw new FormatException($"{h.Name}{{{group.Key}}}: no _sum");
            if (count.Value != buckets[^1].Value) throw new FormatException($"{h.Name}{{{group.Key}}}: _count {count.Value} != +Inf bucket {buckets[^1].Value}");
        }
    }

    private static (string Name, Dictionary<string, string> Labels, double Value) ParseSample(string line, int lineNo)
    {
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ') i++;
        var name = line[..i];
        if (!IsMetricName(name)) throw new FormatException($"line {lineNo}: bad metric name '{name}'");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}') { i++; break; }
                var start = i;
                while (i < line.Length && line[i] != '=') i++;
                var label = line[start..i];
                if (!IsLabelName(label)) throw new FormatException($"line {lineNo}: bad label name '{label}'");
                if (i + 1 >= line.Length || line[i + 1] != '"') throw new FormatException($"line {lineNo}: label {label} has no quoted value");
                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length) throw new FormatException($"line {lineNo}: unterminated label value");
                    var c = line[i++];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        if (i >= line.Length) throw new FormatException($"line {lineNo}: dangling escape");
                        value.Append(line[i++] switch
                        {
                            '\\' => '\\', '"' => '"', 'n' => '\n',
                            var other => throw new FormatException($"line {lineNo}: bad escape \\{other}"),
                        });
                    }
                    else value.Append(c);
                }
                if (!labels.TryAdd(label, value.ToString())) throw new FormatException($"line {lineNo}: label {label} twice");
                if (i < line.Length && line[i] == ',') { i++; continue; }
                if (i < line.Length && line[i] == '}') { i++; break; }
                throw new FormatException($"line {lineNo}: expected , or }} after label {label}");
            }
        }
        if (i >= line.Length || line[i] != ' ') throw new FormatException($"line {lineNo}: no value");
        var rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2 || rest.Any(r => r.Length == 0)) throw new FormatException($"line {lineNo}: expected a value and an optional timestamp");
        var number = ParseFloat(rest[0]);
        if (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            throw new FormatException($"line {lineNo}: bad timestamp '{rest[1]}'");
        return (name, labels, number);
    }

    private static double ParseFloat(string text) => text switch
    {
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"bad number '{text}'"),
    };

    private static string Unescape(string text, bool help, int lineNo)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\') { sb.Append(text[i]); continue; }
            if (++i >= text.Length) throw new FormatException($"line {lineNo}: dangling escape in HELP");
            sb.Append(text[i] switch
            {
                '\\' => '\\', 'n' => '\n',
                var other => throw new FormatException($"line {lineNo}: bad escape \\{other} in {(help ? "HELP" : "value")}"),
            });
        }
        return sb.ToString();
    }

    private static bool IsMetricName(string s) =>
        s.Length > 0 && (char.IsAsciiLetter(s[0]) || s[0] is '_' or ':') && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    private static bool IsLabelName(string s) =>
        s.Length > 0 && (char.IsAsciiLetter(s[0]) || s[0] == '_') && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !s.StartsWith("__", StringComparison.Ordinal);
}
