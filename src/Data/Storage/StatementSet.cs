using System.Data.Common;

namespace Taskdeck.Data.Storage;

/// <summary>
/// Writes of one shape, each about one key (an execution), that a writer may send as one set-based statement over all of
/// them instead of one statement each: every claim gathered in a batch, every close. A statement's fixed cost on the
/// server (planning a prepared statement's execution, starting its executor, its statement-level triggers) is then paid
/// once per batch, not once per execution. The writer only merges members with distinct keys, keeps each key's writes in
/// the order they were issued, and sends a member alone (<see cref="Alone"/>) when nothing shares its statement or when a
/// failed batch is run again item by item.
/// </summary>
/// <typeparam name="TMember">What one member asks for.</typeparam>
/// <typeparam name="T">What one member answers.</typeparam>
public abstract class StatementSet<TMember, T>
{
    /// <summary>
    /// Members read nothing the other writes of their transaction write, and those read nothing they write (log lines
    /// appended): every member gathered in a run of statements goes into one statement whatever its key — two of the same
    /// key included — sent first in that run, so it neither waits for a key's earlier writes nor splits other sets' statements.
    /// It still commits no later than anything issued after it.
    /// </summary>
    public virtual bool OrderFree => false;

    /// <summary>One member as a statement of its own, answering one result set that <c>Read</c> reads.</summary>
    public abstract (string Text, (string Name, object? Value)[] Parameters, Func<DbDataReader, Task<T>> Read) Alone(TMember member);

    /// <summary>
    /// One statement for all of <paramref name="members"/> (at least two; of distinct keys unless <see cref="OrderFree"/>): its one result set has exactly one
    /// row per member, whose first column is the member's position in the list, counted from 1.
    /// </summary>
    public abstract (string Text, (string Name, object? Value)[] Parameters) Together(IReadOnlyList<TMember> members);

    /// <summary>The answer for <paramref name="member"/> from its row of <see cref="Together"/>'s result set (the reader is on it).</summary>
    public abstract T ReadRow(DbDataReader reader, TMember member);
}
