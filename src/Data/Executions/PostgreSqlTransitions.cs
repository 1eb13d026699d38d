using System.Collections.Concurrent;
using System.Data.Common;
using Taskdeck.Core.Executions;
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
/// </summary>
internal static class PostgreSqlTransitions
{
    private static readonly ConcurrentDictionary<(Transition, bool), string> Texts = new();

    public static string Text(Transition transition, bool byActor) => Texts.GetOrAdd((transition, byActor), key => Build(key.Item1, key.Item2));

    private static string Build(Transition transition, bool byActor)
    {
        var rule = StateMachine.Rule(transition);
        var from = string.Join(", ", rule.From.Select(s => (int)s));
        // Values that may be null are cast: a null parameter has no type of its own, and in an INSERT … SELECT nothing gives it one.
        var set = $"{ExecutionColumns.State} = {(int)rule.To}, {ExecutionColumns.UpdatedAt} = @At" + transition switch
        {
            Transition.Claim or Transition.ReportStarted =>
                $", {ExecutionColumns.AttemptCount} = {ExecutionColumns.AttemptCount} + 1, {ExecutionColumns.NodeId} = @NodeId::text, {ExecutionColumns.StartedAt} = @At, " +
                $"{ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.Progress} = NULL, {ExecutionColumns.ProgressMessage} = NULL, " +
                $"{ExecutionColumns.HangfireJobId} = COALESCE(@JobId::text, {ExecutionColumns.HangfireJobId})",
            Transition.Succeed => $", {ExecutionColumns.FinishedAt} = @At, {ExecutionColumns.ResultJson} = @Result::text, {ExecutionColumns.ErrorMessage} = NULL",
            Transition.RetryLater or Transition.RetryLost => $", {ExecutionColumns.RunAt} = @RunAt::bigint, {ExecutionColumns.ErrorMessage} = @Error::text",
            Transition.Retry or Transition.Rewait =>
                $", {ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.RunAt} = NULL, {ExecutionColumns.ErrorMessage} = NULL, {ExecutionColumns.ResultJson} = NULL",
            Transition.Release or Transition.Interrupt => $", {ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.RunAt} = NULL",
            Transition.RequestCancel => "",
            // the ends: Fail, TimeOut, ConfirmCancel, CancelWaiting, MarkLost, Expire
            _ => $", {ExecutionColumns.FinishedAt} = @At, {ExecutionColumns.ErrorMessage} = @Error::text",
        };
        var text = new System.Text.StringBuilder();
        text.Append($"WITH o AS MATERIALIZED (SELECT {ExecutionColumns.State} AS s, {ExecutionColumns.AttemptCount} AS a, {ExecutionColumns.DagRunId} AS d, ");
        text.Append($"{ExecutionColumns.Priority} AS p, {ExecutionColumns.Kind} AS k, {ExecutionColumns.HangfireJobId} AS j FROM {ExecutionColumns.Table} WHERE {ExecutionColumns.Id} = @Id FOR UPDATE), ");
        text.Append($"m AS (UPDATE {ExecutionColumns.Table} SET {set} FROM o WHERE {ExecutionColumns.Id} = @Id AND o.s IN ({from}) AND {ExecutionColumns.State} = o.s ");
        text.Append($"AND (@Expected < 0 OR o.a = @Expected) RETURNING {ExecutionColumns.AttemptCount} AS a)");
        if (StateMachine.OpensAttempt(transition))
            text.Append($", n AS (INSERT INTO {AttemptColumns.Table} ({AttemptColumns.ExecutionId}, {AttemptColumns.Number}, {AttemptColumns.NodeId}, {AttemptColumns.StartedAt}, " +
                        $"{AttemptColumns.Outcome}) SELECT @Id, m.a, @NodeId::text, @At, {(int)ExecutionState.Running} FROM m)");
        else if (StateMachine.ClosesAttemptAs(transition) is { } outcome)
            text.Append($", c AS (UPDATE {AttemptColumns.Table} SET {AttemptColumns.FinishedAt} = @At, {AttemptColumns.Outcome} = {(int)outcome}, {AttemptColumns.Rc} = @Rc::integer, " +
                        $"{AttemptColumns.Error} = @AttemptError::text FROM m " +
                        $"WHERE {AttemptColumns.ExecutionId} = @Id AND {AttemptColumns.Number} = m.a AND m.a > 0 AND {AttemptColumns.FinishedAt} IS NULL)");
        text.Append($", h AS (INSERT INTO {StateChangeColumns.Table} ({StateChangeColumns.ExecutionId}, {StateChangeColumns.At}, {StateChangeColumns.From}, {StateChangeColumns.To}, ");
        text.Append($"{StateChangeColumns.Transition}, {StateChangeColumns.NodeId}, {StateChangeColumns.Reason}, {StateChangeColumns.AttemptNumber}{(byActor ? ", " + StateChangeColumns.ActorName : "")}) ");
        text.Append($"SELECT @Id, @At, o.s, {(int)rule.To}, @Transition::text, @NodeId::text, @Reason::text, m.a{(byActor ? ", @ActorName::text" : "")} FROM m, o) ");
        text.Append("SELECT o.s, o.a, o.d, (SELECT m.a FROM m), o.p, o.k, o.j FROM o");
        return text.ToString();
    }

    public static (string Name, object? Value)[] Parameters(TransitionCommand command, long micros)
    {
        var outcome = StateMachine.ClosesAttemptAs(command.Transition);
        var parameters = new List<(string, object?)>
        {
            ("Id", command.ExecutionId), ("At", micros), ("Expected", command.ExpectedAttempt ?? -1), ("Transition", command.Transition.ToString()),
            ("NodeId", command.NodeId), ("Reason", command.Reason),
        };
        switch (command.Transition)
        {
            case Transition.Succeed: parameters.Add(("Result", command.ResultJson)); break;
            case Transition.RetryLater or Transition.RetryLost: parameters.Add(("RunAt", Sql.Micros(command.RunAt))); parameters.Add(("Error", command.ErrorMessage)); break;
            case Transition.Claim or Transition.ReportStarted: parameters.Add(("JobId", command.HangfireJobId)); break;
            case Transition.Retry or Transition.Rewait or Transition.Release or Transition.Interrupt
                or Transition.RequestCancel: break;
            default: parameters.Add(("Error", command.ErrorMessage ?? command.Reason)); break;
        }
        if (outcome is { } closed && !StateMachine.OpensAttempt(command.Transition))
        {
            parameters.Add(("Rc", command.Rc));
            parameters.Add(("AttemptError", closed == ExecutionState.Succeeded ? null : command.ErrorMessage ?? command.Reason));
        }
        if (command.ActorName is not null) parameters.Add(("ActorName", command.ActorName));
        return [.. parameters];
    }

    /// <summary>The statement's one row (none: no such record) as the transition's result.</summary>
    public static async Task<TransitionResult> ReadAsync(DbDataReader reader, TransitionCommand command, DateTimeOffset at)
    {
        var id = command.ExecutionId;
        if (!await reader.ReadAsync()) return new TransitionResult(id, command.Transition, false, null, null, 0, at, null);
        var found = (ExecutionState)reader.GetInt32(0);
        var attempt = reader.GetInt32(1);
        long? dagRunId = reader.IsDBNull(2) ? null : reader.GetInt64(2);
        if (reader.IsDBNull(3)) return new TransitionResult(id, command.Transition, false, found, null, attempt, at, dagRunId);
        return new TransitionResult(id, command.Transition, true, found, StateMachine.Rule(command.Transition).To, reader.GetInt32(3), at, dagRunId)
            { Priority = reader.GetInt32(4), Kind = (ExecutorKind)reader.GetInt32(5), HangfireJobId = reader.IsDBNull(6) ? null : reader.GetString(6) };
    }
}
