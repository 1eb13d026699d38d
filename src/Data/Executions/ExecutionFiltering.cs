using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Executions;

public static class ExecutionFiltering
{
    /// <summary>The one translation of <see cref="ExecutionFilter"/> into SQL, shared by lists, counts and resets.</summary>
    /// <param name="afterId">Only executions with a higher id: the ones added since a count that saw ids up to it.</param>
    public static IQueryable<Execution> Matching(this IQueryable<Execution> query, ExecutionFilter filter, long? afterId = null)
    {
        if (filter.States is { Count: > 0 } states) query = query.Where(e => states.Contains(e.State));
        // A created-range of a day or less, or the ids past a recent count, are far more selective than a task name or a
        // queue (a handful of values each); comparing `column || ''` keeps SQLite's planner (which has no statistics) off
        // the (Name, State) and (Queue, State) indexes then, so it walks the CreatedAt index or the ids' range instead of
        // every row of that name or queue.
        var recent = filter.CreatedFrom is { } since && (filter.CreatedTo ?? DateTimeOffset.UtcNow) - since <= TimeSpan.FromDays(1);
        var narrowedElsewhere = recent || afterId is not null;
        if (afterId is { } after) query = query.Where(e => e.Id > after);
        if (!string.IsNullOrWhiteSpace(filter.Name))
            query = narrowedElsewhere ? query.Where(e => e.Name + "" == filter.Name) : query.Where(e => e.Name == filter.Name);
        if (!string.IsNullOrWhiteSpace(filter.Queue))
            query = narrowedElsewhere ? query.Where(e => e.Queue + "" == filter.Queue) : query.Where(e => e.Queue == filter.Queue);
        if (!string.IsNullOrWhiteSpace(filter.Tag))
        {
            // A substring test, not LIKE: '%' and '_' in a tag are plain characters (EF escapes them where the
            // provider's translation is a LIKE), and the escaped delimiters make it match one whole tag.
            var needle = TagText.Needle(filter.Tag);
            query = query.Where(e => EF.Property<string>(e, TaskdeckDbContext.TagsText).Contains(needle));
        }
        if (filter.DagRunId is { } run) query = query.Where(e => e.DagRunId == run);
        if (!string.IsNullOrWhiteSpace(filter.Schedule)) query = query.Where(e => e.ScheduleName == filter.Schedule);
        if (filter.Kind is { } kind) query = query.Where(e => e.Kind == kind);
        if (filter.CreatedFrom is { } from) query = query.Where(e => e.CreatedAt >= from);
        if (filter.CreatedTo is { } to) query = query.Where(e => e.CreatedAt < to);
        if (!string.IsNullOrWhiteSpace(filter.Search))
        {
            var text = filter.Search.Trim();
            query = long.TryParse(text, out var id) ? query.Where(e => e.Id == id || e.TaskId == text) : query.Where(e => e.TaskId == text);
        }
        return query;
    }
}
