using System.Data.Common;
using System.Runtime.CompilerServices;

namespace Taskdeck.Data.Storage;

/// <summary>
/// Small helpers for the hand-written hot path (parameters named @Name, values as stored). Commands are kept per
/// connection and text, so the writer's long-lived connection prepares each statement once and then only rebinds
/// values: on SQLite, preparing is a large part of a short statement's cost.
/// </summary>
internal static class Sql
{
    private static readonly ConditionalWeakTable<DbConnection, Dictionary<string, DbCommand>> Prepared = new();
    private const int MaxKeptPerConnection = 200;

    /// <summary>A command for one use; the caller disposes it.</summary>
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string text, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = text;
        Bind(command.Parameters, command.CreateParameter, parameters);
        return command;
    }

    /// <summary>Adds the values to a command's (or a batch command's) parameters, each named @Name.</summary>
    public static void Bind(DbParameterCollection target, Func<DbParameter> create, (string Name, object? Value)[] parameters)
    {
        foreach (var (name, value) in parameters)
        {
            var p = create();
            // Named as written in the text: SQLite then finds it with one lookup instead of trying each prefix in turn.
            p.ParameterName = "@" + name;
            p.Value = Bindable(value);
            target.Add(p);
        }
    }

    /// <summary>A value as bound: text as stored (<see cref="NulFreeParameters"/>: PostgreSQL refuses a NUL in any parameter).</summary>
    private static object Bindable(object? value) => NulFreeParameters.Storable(value) ?? DBNull.Value;

    /// <summary>
    /// The connection's kept command for this text, with these values bound. Not disposed by the caller: it lives as
    /// long as its connection. A connection is used by one thread at a time, so the per-connection cache needs no lock.
    /// </summary>
    public static DbCommand Reused(DbConnection connection, DbTransaction? transaction, string text, params (string Name, object? Value)[] parameters)
    {
        var cache = Prepared.GetValue(connection, _ => new Dictionary<string, DbCommand>(StringComparer.Ordinal));
        if (!cache.TryGetValue(text, out var command) || command.Parameters.Count != parameters.Length)
        {
            command?.Dispose();
            if (cache.Count >= MaxKeptPerConnection)
            {
                // Bulk statements vary with their rows' shapes: start over rather than grow without bound.
                foreach (var kept in cache.Values) kept.Dispose();
                cache.Clear();
            }
            command = Command(connection, transaction, text, parameters);
            cache[text] = command;
            return command;
        }
        command.Transaction = transaction;
        // Bound by position (the same text is always given its parameters in the same order); by name only as a fallback,
        // since a name lookup searches the whole parameter list.
        for (var i = 0; i < parameters.Length; i++)
        {
            var (name, value) = parameters[i];
            var p = command.Parameters[i];
            if (p.ParameterName.Length != name.Length + 1 || !p.ParameterName.EndsWith(name, StringComparison.Ordinal)) p = command.Parameters["@" + name];
            p.Value = Bindable(value);
        }
        return command;
    }

    /// <summary>One-shot: any connection (an EF context's included), the command disposed after.</summary>
    public static async Task<int> ExecuteAsync(DbConnection c, DbTransaction? t, string text, params (string, object?)[] parameters)
    {
        await using var command = Command(c, t, text, parameters);
        return await command.ExecuteNonQueryAsync();
    }

    public static async Task<object?> ScalarAsync(DbConnection c, DbTransaction? t, string text, params (string, object?)[] parameters)
    {
        await using var command = Command(c, t, text, parameters);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }

    /// <summary>For connections the store owns (the writer's, its kept readers) and fixed statement texts only.</summary>
    public static Task<int> ExecutePreparedAsync(DbConnection c, DbTransaction? t, string text, params (string, object?)[] parameters) =>
        Reused(c, t, text, parameters).ExecuteNonQueryAsync();

    public static async Task<object?> ScalarPreparedAsync(DbConnection c, DbTransaction? t, string text, params (string, object?)[] parameters)
    {
        var value = await Reused(c, t, text, parameters).ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }

    public static long Micros(DateTimeOffset at) => TaskdeckDbContext.ToMicros(at);
    public static object? Micros(DateTimeOffset? at) => at is { } v ? TaskdeckDbContext.ToMicros(v) : null;
}
