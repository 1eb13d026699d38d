using Cronos;

namespace Taskdeck.Core.Schedules;

/// <summary>A cron expression that could not be read: <see cref="Field"/> is the request field at fault.</summary>
public sealed class ScheduleDefinitionException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>
/// A parsed cron expression in its time zone. Cronos computes the slots, with its documented daylight-saving rules:
/// a time inside a spring-forward gap fires at the end of the gap (02:30 on a day that jumps 02:00 → 03:00 fires at
/// 03:00), and a time inside a fall-back overlap fires once, at its first occurrence — except expressions that step
/// through the hours (<c>*/…</c>, ranges), which fire in both.
/// </summary>
public sealed class CronSchedule
{
    private CronSchedule(CronExpression expression, TimeZoneInfo zone, bool withSeconds, string text)
    {
        Expression = expression;
        Zone = zone;
        WithSeconds = withSeconds;
        Text = text;
    }

    public CronExpression Expression { get; }
    public TimeZoneInfo Zone { get; }
    public bool WithSeconds { get; }
    public string Text { get; }

    /// <summary>Reads the expression (5 fields, 6 with seconds first, or a macro) and the IANA zone; throws naming the field.</summary>
    public static CronSchedule Parse(string? cron, string? timeZone)
    {
        var text = (cron ?? "").Trim();
        if (text.Length == 0) throw new ScheduleDefinitionException("cron", "A cron expression is required, e.g. \"0 2 * * *\" (at 02:00 every day).");
        var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (!text.StartsWith('@') && fields.Length is not (5 or 6))
            throw new ScheduleDefinitionException("cron", $"\"{text}\" has {fields.Length} field(s); use 5 (minute hour day month weekday) or 6 (second first).");
        var withSeconds = fields.Length == 6;
        CronExpression expression;
        try
        {
            expression = CronExpression.Parse(string.Join(' ', fields), withSeconds ? CronFormat.IncludeSeconds : CronFormat.Standard);
        }
        catch (CronFormatException e)
        {
            throw new ScheduleDefinitionException("cron", $"\"{text}\" is not a valid cron expression: {e.Message}");
        }
        return new CronSchedule(expression, FindZone(timeZone), withSeconds, string.Join(' ', fields));
    }

    public static TimeZoneInfo FindZone(string? timeZone)
    {
        var id = string.IsNullOrWhiteSpace(timeZone) ? "UTC" : timeZone.Trim();
        try { return TimeZoneInfo.FindSystemTimeZoneById(id); }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new ScheduleDefinitionException("timeZone", $"\"{id}\" is not a known time zone; use an IANA id such as \"Europe/Berlin\" or \"UTC\".");
        }
    }

    /// <summary>
    /// The zone to show a stored schedule's times in: its own, or UTC when the id is not known on this machine (a zone
    /// saved elsewhere, or removed from the time-zone database). For display only; <see cref="Parse"/> refuses such an id.
    /// </summary>
    public static TimeZoneInfo FindZoneOrUtc(string? timeZone)
    {
        try { return FindZone(timeZone); }
        catch (ScheduleDefinitionException) { return TimeZoneInfo.Utc; }
    }

    /// <summary>The first slot strictly after <paramref name="after"/>.</summary>
    public DateTimeOffset? Next(DateTimeOffset after) => Expression.GetNextOccurrence(after, Zone, inclusive: false);

    /// <summary>Slots in (<paramref name="after"/>, <paramref name="through"/>], newest first: the same instants <see cref="Next"/> gives.</summary>
    public IEnumerable<DateTimeOffset> Descending(DateTimeOffset through, DateTimeOffset after)
    {
        if (through <= after) yield break;
        DateTimeOffset? previous = null;
        foreach (var found in Expression.GetOccurrencesDescending(through, after, Zone, fromInclusive: true, toInclusive: false))
        {
            // Walking backwards, Cronos puts a slot that falls in a spring-forward gap just before the gap (01:59:59);
            // walking forwards, at its end (03:00). A slot is one instant whichever way it was found: the forward one.
            var slot = Next(found.AddSeconds(-1)) ?? found;
            if (slot > through || slot <= after || slot == previous) continue;
            previous = slot;
            yield return slot;
        }
    }

    /// <summary>The next <paramref name="count"/> slots after <paramref name="after"/>, within the optional window.</summary>
    public IReadOnlyList<DateTimeOffset> Upcoming(DateTimeOffset after, int count, DateTimeOffset? startAt = null, DateTimeOffset? endAt = null)
    {
        var list = new List<DateTimeOffset>(count);
        var next = startAt is { } s && s > after ? Expression.GetNextOccurrence(s, Zone, inclusive: true) : Next(after);
        while (list.Count < count && next is { } slot && (endAt is null || slot <= endAt))
        {
            list.Add(slot);
            next = Next(slot);
        }
        return list;
    }
}
