using System.Collections.Concurrent;
using System.Data.Common;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Executions;

/// <summary>
/// A transition on PostgreSQL as one statement instead of read, update, attempt row, history row one round trip each:
/// the record is locked and read (<c>FOR UPDATE</c>: a concurrent writer's change is waited for and then seen), updated
/// only if its state (and attempt) is one the rule starts from, and the attempt and history rows are written from what
/// the update returned — all in data-modifying CTEs of one statement, so the writer sends many executions' transitions in
/// one round trip. The statement answers what was found (state, attempt, DAG run) and, when it applied, the attempt after
/// and what the state's effects need (priority, executor kind, job).
/// The same statement also exists over arrays (<see cref="Set"/>): the writer sends one batch's transitions of one kind on
/// distinct executions — every claim it gathered, every success — as one statement, each execution a row of
/// <c>unnest(…)</c>, and each answers its own row. Both forms are built from one list of values, so they cannot drift apart.
/// </summary>
internal static class PostgreSqlTransitions
{
    private static readonly ConcurrentDictionary<(Transition, bool), TransitionSet> Sets = new();

    /// <summary>The set of this transition's commands (by an actor or not): what the writer may merge into one statement.</summary>
    public static StatementSet<(TransitionCommand Command, DateTimeOffset At), TransitionResult> Set(Transition transition, bool byActor) =>
        Sets.GetOrAdd((transition, byActor), key => new TransitionSet(key.Item1, key.Item2));

    /// <summary>A value the statement takes from its command: one parameter alone, one array element per command in a set.</summary>
    private sealed record Value(string Name, string Type, Func<TransitionCommand, long, object?> Of, Func<IEnumerable<(TransitionCommand, long)>, object> Array)
    {
        /// <summary>The value in the statement's text: the parameter alone; in a set, the column of the command's row.</summary>
        public string In(bool alone) => alone ? $"@{Name}::{Type}" : $"o.{Name}";
    }

    private static Value Of<T>(string name, string type, Func<TransitionCommand, long, T> of) =>
        new(name, type, (c, micros) => of(c, micros), members => members.Select(m => of(m.Item1, m.Item2)).ToArray());

    private static readonly Value Id = Of("Id", "bigint", (c, _) => c.ExecutionId);
    private static readonly Value At = Of("At", "bigint", (_, micros) => micros);
    private static readonly Value Expected = Of("Expected", "integer", (c, _) => c.ExpectedAttempt ?? -1);
    private static readonly Value NodeId = Of("NodeId", "text", (c, _) => c.NodeId);
    private static readonly Value Reason = Of("Reason", "text", (c, _) => c.Reason);
    private static readonly Value JobId = Of("JobId", "text", (c, _) => c.HangfireJobId);
    private static readonly Value Result = Of("Result", "text", (c, _) => c.ResultJson);
    private static readonly Value RunAt = Of("RunAt", "bigint", (c, _) => c.RunAt is { } runAt ? Sql.Micros(runAt) : (long?)null);
    private static readonly Value RetryError = Of("Error", "text", (c, _) => c.ErrorMessage);
    private static readonly Value EndError = Of("Error", "text", (c, _) => c.ErrorMessage ?? c.Reason);
    private static readonly Value Rc = Of("Rc", "integer", (c, _) => c.Rc);
    private static readonly Value ActorName = Of("ActorName", "text", (c, _) => c.ActorName);

    /// <summary>Every value a transition's statement takes, in the order it is bound.</summary>
    private static Value[] Values(Transition transition, bool byActor)
    {
        var values = new List<Value> { Id, At, Expected, NodeId, Reason };
        values.AddRange(transition switch
        {
            Transition.Succeed => [Result],
            Transition.RetryLater or Transition.RetryLost => [RunAt, RetryError],
            Transition.Claim or Transition.ReportStarted => [JobId],
            Transition.Retry or Transition.Rewait or Transition.Release or Transition.Interrupt or Transition.RequestCancel => [],
            _ => [EndError],
        });
        if (StateMachine.ClosesAttemptAs(transition) is { } closed && !StateMachine.OpensAttempt(transition))
        {
            values.Add(Rc);
            values.Add(closed == ExecutionState.Succeeded
                ? Of<string?>("AttemptError", "text", (_, _) => null)
                : Of("AttemptError", "text", (c, _) => c.ErrorMessage ?? c.Reason));
        }
        if (byActor) values.Add(ActorName);
        return [.. values];
    }

    private static string Build(Transition transition, bool byActor, bool alone)
    {
        var rule = StateMachine.Rule(transition);
        var from = string.Join(", ", rule.From.Select(s => (int)s));
        string V(Value value) => value.In(alone);
        // Values are cast where they stand alone: a null parameter has no type of its own, and in an INSERT … SELECT nothing gives it one.
        var set = $"{ExecutionColumns.State} = {(int)rule.To}, {ExecutionColumns.UpdatedAt} = {V(At)}" + transition switch
        {
            Transition.Claim or Transition.ReportStarted =>
                $", {ExecutionColumns.AttemptCount} = {ExecutionColumns.AttemptCount} + 1, {ExecutionColumns.NodeId} = {V(NodeId)}, {ExecutionColumns.StartedAt} = {V(At)}, " +
                $"{ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.Progress} = NULL, {ExecutionColumns.ProgressMessage} = NULL, " +
                $"{ExecutionColumns.HangfireJobId} = COALESCE({V(JobId)}, {ExecutionColumns.HangfireJobId})",
            Transition.Succeed => $", {ExecutionColumns.FinishedAt} = {V(At)}, {ExecutionColumns.ResultJson} = {V(Result)}, {ExecutionColumns.ErrorMessage} = NULL",
            Transition.RetryLater or Transition.RetryLost => $", {ExecutionColumns.RunAt} = {V(RunAt)}, {ExecutionColumns.ErrorMessage} = {V(RetryError)}",
            Transition.Retry or Transition.Rewait =>
                $", {ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.RunAt} = NULL, {ExecutionColumns.ErrorMessage} = NULL, {ExecutionColumns.ResultJson} = NULL",
            Transition.Release or Transition.Interrupt => $", {ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.RunAt} = NULL",
            Transition.RequestCancel => "",
            // the ends: Fail, TimeOut, ConfirmCancel, CancelWaiting, MarkLost, Expire
            _ => $", {ExecutionColumns.FinishedAt} = {V(At)}, {ExecutionColumns.ErrorMessage} = {V(EndError)}",
        };
        var values = Values(transition, byActor);
        var text = new System.Text.StringBuilder("WITH ");
        // o: each command's record, locked. Alone, the command's values are parameters; in a set, o carries each command's
        // row of values (i), and the records are locked in id order, so within the statement two writers take them in the same order
        // (across a batch's statements they may not: a deadlock there aborts one batch, which is then run again item by item).
        if (alone)
            text.Append($"o AS MATERIALIZED (SELECT @Id::bigint AS id, ");
        else
            text.Append($"i AS MATERIALIZED (SELECT * FROM unnest({string.Join(", ", values.Select(v => $"@{v.Name}::{v.Type}[]"))}) WITH ORDINALITY " +
                        $"AS i({string.Join(", ", values.Select(v => v.Name))}, n)), o AS MATERIALIZED (SELECT i.*, ");
        text.Append($"x.{ExecutionColumns.State} AS s, x.{ExecutionColumns.AttemptCount} AS a, x.{ExecutionColumns.DagRunId} AS d, ");
        text.Append($"x.{ExecutionColumns.Priority} AS p, x.{ExecutionColumns.Kind} AS k, x.{ExecutionColumns.HangfireJobId} AS j FROM {ExecutionColumns.Table} x ");
        text.Append(alone
            ? $"WHERE x.{ExecutionColumns.Id} = @Id FOR UPDATE), "
            : $"JOIN i ON x.{ExecutionColumns.Id} = i.Id ORDER BY x.{ExecutionColumns.Id} FOR UPDATE OF x), ");
        text.Append($"m AS (UPDATE {ExecutionColumns.Table} SET {set} FROM o WHERE {ExecutionColumns.Id} = o.id AND o.s IN ({from}) AND {ExecutionColumns.State} = o.s ");
        text.Append($"AND ({V(Expected)} < 0 OR o.a = {V(Expected)}) RETURNING {ExecutionColumns.Id} AS id, {ExecutionColumns.AttemptCount} AS a)");
        if (StateMachine.OpensAttempt(transition))
            text.Append($", n AS (INSERT INTO {AttemptColumns.Table} ({AttemptColumns.ExecutionId}, {AttemptColumns.Number}, {AttemptColumns.NodeId}, {AttemptColumns.StartedAt}, " +
                        $"{AttemptColumns.Outcome}) SELECT m.id, m.a, {V(NodeId)}, {V(At)}, {(int)ExecutionState.Running} FROM m JOIN o ON o.id = m.id)");
        else if (StateMachine.ClosesAttemptAs(transition) is { } outcome)
            text.Append($", c AS (UPDATE {AttemptColumns.Table} SET {AttemptColumns.FinishedAt} = {V(At)}, {AttemptColumns.Outcome} = {(int)outcome}, " +
                        $"{AttemptColumns.Rc} = {V(Rc)}, {AttemptColumns.Error} = {V(values.Single(v => v.Name == "AttemptError"))} FROM m JOIN o ON o.id = m.id " +
                        $"WHERE {AttemptColumns.ExecutionId} = m.id AND {AttemptColumns.Number} = m.a AND m.a > 0 AND {AttemptColumns.FinishedAt} IS NULL)");
        text.Append($", h AS (INSERT INTO {StateChangeColumns.Table} ({StateChangeColumns.ExecutionId}, {StateChangeColumns.At}, {StateChangeColumns.From}, {StateChangeColumns.To}, ");
        text.Append($"{StateChangeColumns.Transition}, {StateChangeColumns.NodeId}, {StateChangeColumns.Reason}, {StateChangeColumns.AttemptNumber}{(byActor ? ", " + StateChangeColumns.ActorName : "")}) ");
        text.Append($"SELECT m.id, {V(At)}, o.s, {(int)rule.To}, '{transition}', {V(NodeId)}, {V(Reason)}, m.a{(byActor ? ", " + V(ActorName) : "")} FROM m JOIN o ON o.id = m.id) ");
        text.Append(alone
            ? "SELECT o.s, o.a, o.d, (SELECT m.a FROM m), o.p, o.k, o.j FROM o"
            : "SELECT i.n, o.s, o.a, o.d, m.a, o.p, o.k, o.j FROM i LEFT JOIN o ON o.n = i.n LEFT JOIN m ON m.id = i.Id");
        return text.ToString();
    }

    /// <summary>The statement's one row (none: no such record) as the transition's result.</summary>
    private static async Task<TransitionResult> ReadAsync(DbDataReader reader, TransitionCommand command, DateTimeOffset at) =>
        await reader.ReadAsync()
            ? Row(reader, 0, command, at)
            : new TransitionResult(command.ExecutionId, command.Transition, false, null, null, 0, at, null);

    /// <summary>A row of found state, attempt, DAG run, attempt after, priority, kind and job, from column <paramref name="first"/> on.</summary>
    private static TransitionResult Row(DbDataReader reader, int first, TransitionCommand command, DateTimeOffset at)
    {
        var id = command.ExecutionId;
        if (reader.IsDBNull(first)) return new TransitionResult(id, command.Transition, false, null, null, 0, at, null);
        var found = (ExecutionState)reader.GetInt32(first);
        var attempt = reader.GetInt32(first + 1);
        long? dagRunId = reader.IsDBNull(first + 2) ? null : reader.GetInt64(first + 2);
        if (reader.IsDBNull(first + 3)) return new TransitionResult(id, command.Transition, false, found, null, attempt, at, dagRunId);
        return new TransitionResult(id, command.Transition, true, found, StateMachine.Rule(command.Transition).To, reader.GetInt32(first + 3), at, dagRunId)
            { Priority = reader.GetInt32(first + 4), Kind = (ExecutorKind)reader.GetInt32(first + 5), HangfireJobId = reader.IsDBNull(first + 6) ? null : reader.GetString(first + 6) };
    }

    /// <summary>
    /// One transition (by an actor or not) as a set the writer may merge: its values and both statements built once, so a
    /// transition on the hot path only binds.
    /// </summary>
    private sealed class TransitionSet(Transition transition, bool byActor) : StatementSet<(TransitionCommand Command, DateTimeOffset At), TransitionResult>
    {
        private readonly Value[] _values = Values(transition, byActor);
        private readonly string _aloneText = Build(transition, byActor, alone: true);
        private readonly string _togetherText = Build(transition, byActor, alone: false);

        public override (string Text, (string Name, object? Value)[] Parameters, Func<DbDataReader, Task<TransitionResult>> Read) Alone(
            (TransitionCommand Command, DateTimeOffset At) member)
        {
            var micros = Sql.Micros(member.At);
            return (_aloneText, _values.Select(v => (v.Name, v.Of(member.Command, micros))).ToArray(), reader => ReadAsync(reader, member.Command, member.At));
        }

        public override (string Text, (string Name, object? Value)[] Parameters) Together(IReadOnlyList<(TransitionCommand Command, DateTimeOffset At)> members)
        {
            var rows = members.Select(m => (m.Command, Sql.Micros(m.At))).ToList();
            return (_togetherText, _values.Select(v => (v.Name, (object?)v.Array(rows))).ToArray());
        }

        public override TransitionResult ReadRow(DbDataReader reader, (TransitionCommand Command, DateTimeOffset At) member) => Row(reader, 1, member.Command, member.At);
    }
}
