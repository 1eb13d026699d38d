using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Taskdeck.Core.Limits;

namespace Taskdeck.Data.Storage;

/// <summary>
/// PostgreSQL's text cannot hold a NUL, and refuses one in any parameter, a comparison's included: a filter, a search or a
/// name with <c>%00</c> in it answered 500, a worker's failure report was not recorded. Every command sends its text
/// parameters as stored (<see cref="TextRules.Storable"/>: a NUL as U+FFFD) — EF Core's through this interceptor, the
/// hand-written SQL's through <c>Sql</c>'s binding — on every provider alike, so a lookup with a NUL finds nothing and a
/// write keeps the rest of the text. Names are refused before they get here (<see cref="TextRules.NameProblem"/>).
/// </summary>
public sealed class NulFreeParameters : DbCommandInterceptor
{
    public static readonly NulFreeParameters Instance = new();

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Clean(command);
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        Clean(command);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Clean(command);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Clean(command);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        Clean(command);
        return result;
    }

    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<object> result, CancellationToken cancellationToken = default)
    {
        Clean(command);
        return ValueTask.FromResult(result);
    }

    public static void Clean(DbCommand command)
    {
        foreach (DbParameter parameter in command.Parameters)
            if (parameter.Value is string or string[]) parameter.Value = Storable(parameter.Value);
    }

    /// <summary>A parameter's value as stored: text (and arrays of text, as Npgsql sends them) with a NUL as U+FFFD; anything else as it is.</summary>
    public static object? Storable(object? value) => value switch
    {
        string text => TextRules.Storable(text),
        string[] texts when texts.Any(t => t is not null && t.Contains('\0')) => texts.Select(t => TextRules.Storable(t)).ToArray(),
        _ => value,
    };
}
