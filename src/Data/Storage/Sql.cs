using System.Data.Common;

namespace Taskdeck.Data.Storage;

/// <summary>Small helpers for the hand-written hot path (parameters named @Name, values as stored).</summary>
internal static class Sql
{
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string text, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = text;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            command.Parameters.Add(p);
        }
        return command;
    }

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

    public static long Micros(DateTimeOffset at) => TaskdeckDbContext.ToMicros(at);
    public static object? Micros(DateTimeOffset? at) => at is { } v ? TaskdeckDbContext.ToMicros(v) : null;
}
