using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Taskdeck.Core.Limits;

namespace Taskdeck.Data.Storage;

/// <summary>
/// PostgreSQL's text cannot hold a NUL, and refuses one in any parameter, a comparison's included: a filter, a search or a
/// name with <c>%00</c> in it answered 500. Every EF Core command on PostgreSQL sends its text parameters as stored
/// (<see cref="TextRules.Storable"/>: a NUL as U+FFFD), so a lookup finds nothing and a write keeps the rest of the text.
/// Names are refused before they get here (<see cref="TextRules.NameProblem"/>); this is the net under every other path.
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
        {
            switch (parameter.Value)
            {
                case string text when text.Contains('\0'):
                    parameter.Value = TextRules.Storable(text);
                    break;
                case string[] texts when texts.Any(t => t is not null && t.Contains('\0')):
                    parameter.Value = texts.Select(t => TextRules.Storable(t)).ToArray();
                    break;
            }
        }
    }
}
