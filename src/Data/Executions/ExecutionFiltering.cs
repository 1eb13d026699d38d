using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Executions;

public static class ExecutionFiltering
{
    /// <summary>The one translation of <see cref="ExecutionFilter"/> into SQL, shared by lists, counts and resets.</summary>
    public static IQueryable<Execution> Matching(this IQueryable<Execution> query, ExecutionFilter filter)
    {
        if (filter.States is { Count: > 0 } states) query = query.Where(e => states.Contains(e.State));
        if (!string.IsNullOrWhiteSpace(filter.Name)) query = query.Where(e => e.Name == filter.Name);
        if (!string.IsNullOrWhiteSpace(filter.Queue)) query = query.Where(e => e.Queue == filter.Queue);
        if (!string.IsNullOrWhiteSpace(filter.Tag))
        {
            var pattern = "%|" + filter.Tag + "|%";
            query = query.Where(e => EF.Functions.Like(EF.Property<string>(e, TaskdeckDbContext.TagsText), pattern));
        }
        if (filter.DagRunId is { } run) query = query.Where(e => e.DagRunId == run);
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
