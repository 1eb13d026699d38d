using System.Globalization;
using System.Text.Json;

namespace Taskdeck.Console.Components.Shared;

public static class Format
{
    /// <summary>"850 ms", "12 s", "2 min 13 s", "1 h 4 min", "3 d 2 h".</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero) span = TimeSpan.Zero;
        if (span.TotalSeconds < 1) return $"{(int)span.TotalMilliseconds} ms";
        if (span.TotalSeconds < 10) return $"{span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s";
        if (span.TotalMinutes < 1) return $"{(int)span.TotalSeconds} s";
        if (span.TotalHours < 1) return span.Seconds == 0 ? $"{(int)span.TotalMinutes} min" : $"{(int)span.TotalMinutes} min {span.Seconds} s";
        if (span.TotalDays < 1) return span.Minutes == 0 ? $"{(int)span.TotalHours} h" : $"{(int)span.TotalHours} h {span.Minutes} min";
        return span.Hours == 0 ? $"{(int)span.TotalDays} d" : $"{(int)span.TotalDays} d {span.Hours} h";
    }

    public static string? Duration(DateTimeOffset? from, DateTimeOffset? to) =>
        from is { } a && to is { } b ? Duration(b - a) : null;

    /// <summary>The wall-clock time in <paramref name="zone"/>: "Thu 2026-12-03 02:30:00" (a schedule's fire times in its own zone).</summary>
    public static string InZone(DateTimeOffset at, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(at, zone).ToString("ddd yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>Indented JSON, or the text as it is when it is not JSON.</summary>
    public static string PrettyJson(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return "";
        try
        {
            using var doc = JsonDocument.Parse(json);
            return JsonSerializer.Serialize(doc.RootElement, Indented);
        }
        catch (JsonException) { return json; }
    }

    /// <summary>Null when the text is empty or valid JSON; otherwise what is wrong, with line and position.</summary>
    public static string? JsonProblem(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        try { using var _ = JsonDocument.Parse(text); return null; }
        catch (JsonException e) { return $"Not valid JSON: {e.Message.Split(" Path:")[0].Split(" LineNumber:")[0].TrimEnd('.')} (line {e.LineNumber + 1}, position {e.BytePositionInLine + 1})."; }
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
