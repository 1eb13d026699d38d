using System.Globalization;

namespace Taskdeck.Core.Schedules;

/// <summary>
/// A cron expression in words for the console ("at 02:00, every day", "every 5 minutes, Monday through Friday").
/// Covers the forms people write; anything more unusual is described field by field, never wrongly.
/// </summary>
public static class CronDescriber
{
    private static readonly string[] DayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    private static readonly string[] Months = ["", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    public static string Describe(string cron)
    {
        var text = cron.Trim();
        switch (text.ToLowerInvariant())
        {
            case "@yearly" or "@annually": return "at 00:00, on 1 January";
            case "@monthly": return "at 00:00, on day 1 of the month";
            case "@weekly": return "at 00:00, on Sunday";
            case "@daily" or "@midnight": return "at 00:00, every day";
            case "@hourly": return "every hour, on the hour";
            case "@every_minute": return "every minute";
            case "@every_second": return "every second";
        }
        var f = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f.Length is not (5 or 6)) return text;
        var (second, minute, hour, dom, month, dow) = f.Length == 6 ? (f[0], f[1], f[2], f[3], f[4], f[5]) : ("0", f[0], f[1], f[2], f[3], f[4]);
        var time = Time(second, minute, hour);
        var parts = new List<string> { time };
        // "every 5 minutes" needs no "every day"; "at 02:00" does.
        parts.AddRange(Days(dom, month, dow).Where(d => d != "every day" || time.StartsWith("at ", StringComparison.Ordinal)));
        return string.Join(", ", parts.Where(p => p.Length > 0));
    }

    private static string Time(string second, string minute, string hour)
    {
        var s = Number(second); var m = Number(minute); var h = Number(hour);
        if (s is not null && m is not null && h is not null) return "at " + Clock(h.Value, m.Value, s.Value);
        if (s is not null && m is not null && Numbers(hour) is { } hours)
            return "at " + Join(hours.Select(x => Clock(x, m.Value, s.Value)).ToList());
        if (IsEvery(second))
            return Every("second", second) + Within("minute", minute) + Within("hour", hour);
        if (s == 0 && IsEvery(minute))
            return Every("minute", minute) + Within("hour", hour);
        if (s == 0 && m is not null && IsEvery(hour))
            return (hour == "*" ? "every hour" : Every("hour", hour)) + (m == 0 ? ", on the hour" : $", at minute {m}");
        return string.Join(", ", new[] { Field("second", second), Field("minute", minute), Field("hour", hour) }.Where(x => x.Length > 0));
    }

    private static IEnumerable<string> Days(string dom, string month, string dow)
    {
        var days = new List<string>();
        if (dom is "*" or "?" && dow is "*" or "?") days.Add(month == "*" ? "every day" : "");
        if (dom is not ("*" or "?")) days.Add(dom switch
        {
            "L" => "on the last day of the month",
            _ when Number(dom) is { } d => $"on day {d} of the month",
            _ => "on days " + Range(dom, x => x) + " of the month",
        });
        if (dow is not ("*" or "?")) days.Add("on " + Range(dow, DayName));
        if (month != "*") days.Add("in " + Range(month, MonthName));
        return days;
    }

    private static bool IsEvery(string field) => field == "*" || field.StartsWith("*/", StringComparison.Ordinal) || field.Contains('/');

    private static string Every(string unit, string field)
    {
        if (field == "*") return $"every {unit}";
        var slash = field.Split('/');
        var step = int.TryParse(slash[1], out var n) ? n : 1;
        var every = step == 1 ? $"every {unit}" : $"every {step} {unit}s";
        return slash[0] is "*" or "0" ? every : $"{every}, starting at {unit} {slash[0]}";
    }

    private static string Within(string unit, string field) => field switch
    {
        "*" => "",
        _ when field.Contains('/') => $", {Every(unit, field)}",
        _ => $", {(unit == "hour" ? "between" : "in")} {unit}s {Range(field, x => x)}",
    };

    private static string Field(string unit, string field) => field switch
    {
        "*" => "",
        _ when field.Contains('/') => Every(unit, field),
        _ => $"at {unit} {Range(field, x => x)}",
    };

    private static string Range(string field, Func<string, string> name) =>
        Join(field.Split(',').Select(part => part.Split('-') is [var a, var b] ? $"{name(a)} through {name(b)}" : name(part)).ToList());

    private static string Join(IReadOnlyList<string> items) =>
        items.Count <= 1 ? string.Concat(items) : string.Join(", ", items.Take(items.Count - 1)) + " and " + items[^1];

    private static string DayName(string value) =>
        int.TryParse(value, out var d) && d is >= 0 and <= 7 ? DayNames[d]
        : CultureInfo.InvariantCulture.TextInfo.ToTitleCase(value.ToLowerInvariant()) switch
        {
            "Sun" => "Sunday", "Mon" => "Monday", "Tue" => "Tuesday", "Wed" => "Wednesday", "Thu" => "Thursday", "Fri" => "Friday", "Sat" => "Saturday", var other => other,
        };

    private static string MonthName(string value) =>
        int.TryParse(value, out var m) && m is >= 1 and <= 12 ? Months[m]
        : Months.FirstOrDefault(n => n.Length > 0 && n.StartsWith(value, StringComparison.OrdinalIgnoreCase)) ?? value;

    private static int? Number(string field) => int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static List<int>? Numbers(string field)
    {
        var values = field.Split(',').Select(Number).ToList();
        return values.All(v => v is not null) ? values.Select(v => v!.Value).ToList() : null;
    }

    private static string Clock(int h, int m, int s) => s == 0 ? $"{h:00}:{m:00}" : $"{h:00}:{m:00}:{s:00}";
}
