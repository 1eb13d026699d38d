using System.Data.Common;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Schedules;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Executions;

/// <summary>
/// The engine's storage. Writes are hand-written SQL through the <see cref="WriteQueue"/> (group commit); each
/// transition is a compare-and-set on the state (and attempt number) with its attempt and history rows in the
/// same transaction — on PostgreSQL one statement (<see cref="PostgreSqlTransitions"/>), sent with the other writes
/// gathered beside it in one round trip. Writes about one execution are keyed by its id, so they keep their order on
/// the parallel writers of a network database. Reads use EF Core.
/// </summary>
public sealed class ExecutionStore(TaskdeckDatabase database, WriteQueue writes, IDbContextFactory<TaskdeckDbContext> contexts, KeptReaders readers,
    ILogger<ExecutionStore>? logger = null)
    : IExecutionTransitionStore, IExecutionReader, IExecutionDeleter, IAttemptOutputStore, IDispatchStore, INodeLeaseStore, IChangeFeed
{
    private static readonly string[] InsertedColumns =
    [
        ExecutionColumns.TaskId, ExecutionColumns.Kind, ExecutionColumns.Name, ExecutionColumns.ArgumentsJson, ExecutionColumns.Command,
        ExecutionColumns.Environment, ExecutionColumns.WorkingDirectory, ExecutionColumns.Queue, ExecutionColumns.Priority, ExecutionColumns.State,
        ExecutionColumns.AttemptCount, ExecutionColumns.MaxRetries, ExecutionColumns.RetryIntervalSeconds, ExecutionColumns.ExponentialBackoff,
        ExecutionColumns.RetryPolicy, ExecutionColumns.TimeoutSeconds, ExecutionColumns.RunAt, ExecutionColumns.ExpiresAt, ExecutionColumns.CreatedAt,
        ExecutionColumns.UpdatedAt, ExecutionColumns.Tags, ExecutionColumns.TagsText, ExecutionColumns.DagRunId, ExecutionColumns.DagTaskName,
        ExecutionColumns.IsGenerator, ExecutionColumns.Cores, ExecutionColumns.MemoryMB, ExecutionColumns.Gpus, ExecutionColumns.ScheduleName,
        ExecutionColumns.ScheduleSlot,
    ];

    private static readonly string[] HistoryColumns =
    [
        StateChangeColumns.ExecutionId, StateChangeColumns.At, StateChangeColumns.From, StateChangeColumns.To, StateChangeColumns.Transition,
        StateChangeColumns.NodeId, StateChangeColumns.Reason, StateChangeColumns.AttemptNumber,
    ];

    // An operator's act also keeps who asked. A separate text, so the engine's own transitions (nearly all of them)
    // bind nothing more than they did before the column existed.
    private static readonly string[] HistoryColumnsByActor = [.. HistoryColumns, StateChangeColumns.ActorName];

    private static readonly string InsertHistory =
        $"INSERT INTO {StateChangeColumns.Table} ({string.Join(", ", HistoryColumns)}) VALUES (@Id, @At, @From, @To, @Transition, @NodeId, @Reason, @AttemptNumber)";

    private static readonly string InsertHistoryByActor =
        $"INSERT INTO {StateChangeColumns.Table} ({string.Join(", ", HistoryColumnsByActor)}) VALUES (@Id, @At, @From, @To, @Transition, @NodeId, @Reason, @AttemptNumber, @ActorName)";

    /// <summary>Many rows a statement (a DAG's thousands of tasks are one submission), each with its Submit history row.</summary>
    public Task<IReadOnlyList<long>> InsertAsync(IReadOnlyList<(NewExecution Spec, ExecutionState State)> items, DateTimeOffset at, string nodeId, CancellationToken ct = default) =>
        writes.RunAsync<IReadOnlyList<long>>((c, t) => InsertAsync(c, t, items, at, nodeId), ct);

    /// <summary>The firing row first: when its (schedule, slot) is taken nothing else is written, and the batch goes on.</summary>
    public Task<IReadOnlyList<long>?> InsertClaimedAsync(SlotClaim claim, IReadOnlyList<(NewExecution Spec, ExecutionState State)> items, DateTimeOffset at,
        string nodeId, CancellationToken ct = default) =>
        writes.RunAsync<IReadOnlyList<long>?>(async (c, t) =>
        {
            if (await SlotClaims.ClaimAsync(database, c, t, claim, FiringOutcome.Started) is not { } firing) return null;
            var ids = await InsertAsync(c, t, items, at, nodeId);
            await SlotClaims.AttachAsync(c, t, firing, executionId: ids[0], dagRunId: null);
            return ids;
        }, ct);

    private async Task<IReadOnlyList<long>> InsertAsync(DbConnection c, DbTransaction t, IReadOnlyList<(NewExecution Spec, ExecutionState State)> items, DateTimeOffset at, string nodeId)
    {
            var micros = Sql.Micros(at);
            var rows = items.Select(item => ExecutionRow(item.Spec, item.State, micros)).ToList();
            var ids = await BulkInsert.InsertReturningIdsAsync(database, c, t, ExecutionColumns.Table, InsertedColumns, ExecutionColumns.Id, ExecutionColumns.TaskId, rows);
            var history = new List<object?[]>(ids.Length);
            for (var i = 0; i < ids.Length; i++)
                history.Add([ids[i], micros, null, (int)items[i].State, nameof(Transition.Submit), nodeId, null, 0]);
            await BulkInsert.InsertAsync(database, c, t, StateChangeColumns.Table, HistoryColumns, history);
            return ids;
    }

    private static object?[] ExecutionRow(NewExecution s, ExecutionState state, long micros) =>
    [
        s.TaskId ?? Guid.CreateVersion7().ToString(), (int)s.Kind, s.Name, s.ArgumentsJson, Json(s.Command), Json(s.Environment), s.WorkingDirectory, s.Queue,
        s.Priority, (int)state, 0, s.MaxRetries, s.RetryIntervalSeconds, s.ExponentialBackoff, (int)s.RetryPolicy, s.TimeoutSeconds, Sql.Micros(s.RunAt),
        Sql.Micros(s.ExpiresAt), micros, micros, Json(s.Tags), TagsText(s.Tags), s.DagRunId, s.DagTaskName, s.IsGenerator, s.Cores, s.MemoryMB, s.Gpus,
        s.ScheduleName, Sql.Micros(s.ScheduleSlot),
    ];

    // Keyed by the execution: its writes commit in the order they were issued, whichever of the parallel writers takes them.
    // On PostgreSQL a member of its transition's set: the writer sends a batch's claims (closes, …) of distinct executions as one statement.
    public Task<TransitionResult> ApplyAsync(TransitionCommand command, DateTimeOffset at, CancellationToken ct = default) =>
        database.Provider == Core.StorageProvider.PostgreSql
            ? writes.RunInSetAsync(command.ExecutionId, PostgreSqlTransitions.Set(command.Transition, command.ActorName is not null), (command, at), ct)
            : writes.RunAsync(command.ExecutionId, (c, t) => ApplyAsync(c, t, command, at), ct);

    /// <summary>Two transitions of one record in one commit, on its writer: as two <see cref="ApplyAsync(TransitionCommand, DateTimeOffset, CancellationToken)"/> queued as one.</summary>
    public (Task<TransitionResult> First, Task<TransitionResult> Second) ApplyTogether(TransitionCommand first, TransitionCommand second, DateTimeOffset at,
        CancellationToken ct = default)
    {
        var written = database.Provider == Core.StorageProvider.PostgreSql
            ? writes.RunInSetTogether(first.ExecutionId, [
                (PostgreSqlTransitions.Set(first.Transition, first.ActorName is not null), (first, at)),
                (PostgreSqlTransitions.Set(second.Transition, second.ActorName is not null), (second, at))], ct)
            : writes.RunTogether<TransitionResult>(first.ExecutionId, [(c, t) => ApplyAsync(c, t, first, at), (c, t) => ApplyAsync(c, t, second, at)], ct);
        return (written[0], written[1]);
    }

    private const string OpenAttempt =
        $"INSERT INTO {AttemptColumns.Table} ({AttemptColumns.ExecutionId}, {AttemptColumns.Number}, {AttemptColumns.NodeId}, {AttemptColumns.StartedAt}, {AttemptColumns.Outcome}) " +
        "VALUES (@Id, @Number, @NodeId, @At, @Outcome)";

    private const string CloseAttempt =
        $"UPDATE {AttemptColumns.Table} SET {AttemptColumns.FinishedAt} = @At, {AttemptColumns.Outcome} = @Outcome, {AttemptColumns.Rc} = @Rc, {AttemptColumns.Error} = @Error " +
        $"WHERE {AttemptColumns.ExecutionId} = @Id AND {AttemptColumns.Number} = @Number AND {AttemptColumns.FinishedAt} IS NULL";

    private static async Task<TransitionResult> ApplyAsync(DbConnection c, DbTransaction t, TransitionCommand command, DateTimeOffset at)
    {
        var rule = StateMachine.Rule(command.Transition);
        var id = command.ExecutionId;
        var (found, attempt, dagRunId, priority, kind, jobId) = await ReadStateAsync(c, t, id);
        TransitionResult Refused(ExecutionState? state, int attemptNo) => new(id, command.Transition, false, state, null, attemptNo, at, dagRunId);
        if (found is null) return Refused(null, 0);
        if (!rule.From.Contains(found.Value) || (command.ExpectedAttempt is { } expected && expected != attempt)) return Refused(found, attempt);

        var micros = Sql.Micros(at);
        var opens = StateMachine.OpensAttempt(command.Transition);
        var set = new StringBuilder($"{ExecutionColumns.State} = @To, {ExecutionColumns.UpdatedAt} = @At");
        var parameters = new List<(string, object?)> { ("Id", id), ("From", (int)found.Value), ("Attempt", attempt), ("To", (int)rule.To), ("At", micros) };
        switch (command.Transition)
        {
            case Transition.Claim or Transition.ReportStarted:
                set.Append($", {ExecutionColumns.AttemptCount} = {ExecutionColumns.AttemptCount} + 1, {ExecutionColumns.NodeId} = @NodeId, {ExecutionColumns.StartedAt} = @At, " +
                           $"{ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.Progress} = NULL, {ExecutionColumns.ProgressMessage} = NULL, " +
                           $"{ExecutionColumns.HangfireJobId} = COALESCE(@JobId, {ExecutionColumns.HangfireJobId})");
                parameters.Add(("NodeId", command.NodeId)); parameters.Add(("JobId", command.HangfireJobId));
                break;
            case Transition.Succeed:
                set.Append($", {ExecutionColumns.FinishedAt} = @At, {ExecutionColumns.ResultJson} = @Result, {ExecutionColumns.ErrorMessage} = NULL");
                parameters.Add(("Result", command.ResultJson));
                break;
            case Transition.RetryLater or Transition.RetryLost:
                set.Append($", {ExecutionColumns.RunAt} = @RunAt, {ExecutionColumns.ErrorMessage} = @Error");
                parameters.Add(("RunAt", Sql.Micros(command.RunAt))); parameters.Add(("Error", command.ErrorMessage));
                break;
            case Transition.Retry or Transition.Rewait or Transition.Release or Transition.Interrupt:
                set.Append($", {ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.RunAt} = NULL");
                if (command.Transition is Transition.Retry or Transition.Rewait) set.Append($", {ExecutionColumns.ErrorMessage} = NULL, {ExecutionColumns.ResultJson} = NULL");
                break;
            case Transition.RequestCancel:
                break;
            default: // the ends: Fail, TimeOut, ConfirmCancel, CancelWaiting, MarkLost, Expire
                set.Append($", {ExecutionColumns.FinishedAt} = @At, {ExecutionColumns.ErrorMessage} = @Error");
                parameters.Add(("Error", command.ErrorMessage ?? command.Reason));
                break;
        }
        var updated = await Sql.ExecutePreparedAsync(c, t,
            $"UPDATE {ExecutionColumns.Table} SET {set} WHERE {ExecutionColumns.Id} = @Id AND {ExecutionColumns.State} = @From AND {ExecutionColumns.AttemptCount} = @Attempt",
            [.. parameters]);
        if (updated != 1)
        {
            // Another node changed it between our read and our write (multi-node only): report what is there now.
            var (now, nowAttempt, _, _, _, _) = await ReadStateAsync(c, t, id);
            return Refused(now, nowAttempt);
        }

        var attemptNumber = opens ? attempt + 1 : attempt;
        if (opens)
        {
            await Sql.ExecutePreparedAsync(c, t,
                OpenAttempt,
                ("Id", id), ("Number", attemptNumber), ("NodeId", command.NodeId), ("At", micros), ("Outcome", (int)ExecutionState.Running));
        }
        else if (StateMachine.ClosesAttemptAs(command.Transition) is { } outcome && attempt > 0)
        {
            await Sql.ExecutePreparedAsync(c, t,
                CloseAttempt,
                ("At", micros), ("Outcome", (int)outcome), ("Rc", command.Rc), ("Error", outcome == ExecutionState.Succeeded ? null : command.ErrorMessage ?? command.Reason),
                ("Id", id), ("Number", attempt));
        }
        if (command.ActorName is null)
            await Sql.ExecutePreparedAsync(c, t, InsertHistory, ("Id", id), ("At", micros), ("From", (int)found.Value), ("To", (int)rule.To),
                ("Transition", command.Transition.ToString()), ("NodeId", command.NodeId), ("Reason", command.Reason), ("AttemptNumber", attemptNumber));
        else
            await Sql.ExecutePreparedAsync(c, t, InsertHistoryByActor, ("Id", id), ("At", micros), ("From", (int)found.Value), ("To", (int)rule.To),
                ("Transition", command.Transition.ToString()), ("NodeId", command.NodeId), ("Reason", command.Reason), ("AttemptNumber", attemptNumber),
                ("ActorName", command.ActorName));
        return new TransitionResult(id, command.Transition, true, found, rule.To, attemptNumber, at, dagRunId) { Priority = priority, Kind = kind, HangfireJobId = jobId };
    }

    public Task<IReadOnlyList<BatchTransitioned>> ApplyManyAsync(TransitionCommand template, IReadOnlyList<long> ids, DateTimeOffset at, CancellationToken ct = default) =>
        writes.RunAsync<IReadOnlyList<BatchTransitioned>>(async (c, t) =>
        {
            var rule = StateMachine.Rule(template.Transition);
            var micros = Sql.Micros(at);
            var set = new StringBuilder($"{ExecutionColumns.State} = @To, {ExecutionColumns.UpdatedAt} = @At");
            var parameters = new List<(string, object?)> { ("To", (int)rule.To), ("At", micros) };
            switch (template.Transition)
            {
                case Transition.Retry or Transition.Rewait or Transition.Release:
                    set.Append($", {ExecutionColumns.FinishedAt} = NULL, {ExecutionColumns.RunAt} = NULL");
                    if (template.Transition is Transition.Retry or Transition.Rewait) set.Append($", {ExecutionColumns.ErrorMessage} = NULL, {ExecutionColumns.ResultJson} = NULL");
                    break;
                case Transition.CancelWaiting:
                    set.Append($", {ExecutionColumns.FinishedAt} = @At, {ExecutionColumns.ErrorMessage} = @Error");
                    parameters.Add(("Error", template.ErrorMessage ?? template.Reason));
                    break;
                case Transition.RequestCancel: // the attempt goes on until its worker stops it: only the state says so
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(template), template.Transition, "Not a set-based transition.");
            }
            // Ids are numbers formatted here, not text from outside: a literal list keeps the statement within every
            // provider's parameter limit (SQL Server's 2,100) at any batch size.
            var idList = string.Join(",", ids.Distinct().Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            var changed = new List<BatchTransitioned>(ids.Count);
            string[] read = [ExecutionColumns.Id, ExecutionColumns.AttemptCount, ExecutionColumns.DagRunId, ExecutionColumns.HangfireJobId, ExecutionColumns.Priority, ExecutionColumns.Kind];
            var returning = database.Provider == Core.StorageProvider.SqlServer
                ? ($"OUTPUT {string.Join(", ", read.Select(column => "inserted." + column))} ", "")
                : ("", $" RETURNING {string.Join(", ", read)}");
            foreach (var from in rule.From)
            {
                var text = $"UPDATE {ExecutionColumns.Table} SET {set} {returning.Item1}WHERE {ExecutionColumns.Id} IN ({idList}) AND {ExecutionColumns.State} = @From{returning.Item2}";
                await using var command = Sql.Command(c, t, text, [.. parameters, ("From", (int)from)]);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                    changed.Add(new BatchTransitioned(Convert.ToInt64(reader.GetValue(0)), from, Convert.ToInt32(reader.GetValue(1)),
                        reader.IsDBNull(2) ? null : Convert.ToInt64(reader.GetValue(2)), reader.IsDBNull(3) ? null : reader.GetString(3),
                        Convert.ToInt32(reader.GetValue(4)), (ExecutorKind)Convert.ToInt32(reader.GetValue(5))));
            }
            if (changed.Count > 0)
                await BulkInsert.InsertAsync(database, c, t, StateChangeColumns.Table, HistoryColumnsByActor, changed.Select(r => new object?[]
                {
                    r.Id, micros, (int)r.From, (int)rule.To, template.Transition.ToString(), template.NodeId, template.Reason, r.AttemptCount, template.ActorName,
                }).ToList());
            return changed;
        }, ct);

    public async Task<IReadOnlyList<(long Id, ExecutionState State)>> StatesAsync(IReadOnlyList<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return [];
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking().Where(e => ids.Contains(e.Id)).Select(e => new { e.Id, e.State }).ToListAsync(ct);
        return rows.Select(r => (r.Id, r.State)).ToList();
    }

    public async Task<IReadOnlyList<long>> FindIdsAfterAsync(ExecutionFilter filter, long afterId, int limit, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking().Matching(filter).Where(e => e.Id > afterId).OrderBy(e => e.Id).Select(e => e.Id).Take(limit).ToListAsync(ct);
    }

    public Task<IReadOnlyList<long>> DeleteTerminalManyAsync(IReadOnlyList<long> ids, CancellationToken ct = default) =>
        ids.Count == 0 ? Task.FromResult<IReadOnlyList<long>>([]) : writes.RunAsync<IReadOnlyList<long>>(async (c, t) =>
        {
            var terminal = string.Join(", ", ExecutionStates.Terminal.Select(s => (int)s));
            var idList = string.Join(",", ids.Distinct().Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            var found = new List<long>();
            await using (var select = Sql.Command(c, t, $"SELECT {ExecutionColumns.Id} FROM {ExecutionColumns.Table} WHERE {ExecutionColumns.Id} IN ({idList}) AND {ExecutionColumns.State} IN ({terminal})"))
            await using (var reader = await select.ExecuteReaderAsync())
                while (await reader.ReadAsync()) found.Add(Convert.ToInt64(reader.GetValue(0)));
            if (found.Count == 0) return found;
            var doomed = string.Join(",", found.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            // As the single delete: each dependent row goes only while its record is still terminal (another node may retry it meanwhile).
            foreach (var (table, executionId) in Dependents)
                await Sql.ExecuteAsync(c, t, $"DELETE FROM {table} WHERE {executionId} IN ({doomed}) AND EXISTS " +
                    $"(SELECT 1 FROM {ExecutionColumns.Table} x WHERE x.{ExecutionColumns.Id} = {table}.{executionId} AND x.{ExecutionColumns.State} IN ({terminal}))");
            await Sql.ExecuteAsync(c, t, $"DELETE FROM {DagEdgeColumns.Table} WHERE {DagEdgeColumns.ParentExecutionId} IN ({doomed}) OR {DagEdgeColumns.ChildExecutionId} IN ({doomed})");
            var deleted = new List<long>();
            foreach (var id in found)
                if (await Sql.ExecutePreparedAsync(c, t, $"DELETE FROM {ExecutionColumns.Table} WHERE {ExecutionColumns.Id} = @Id AND {ExecutionColumns.State} IN ({terminal})", ("Id", id)) == 1) deleted.Add(id);
            return deleted;
        }, ct);

    /// <summary>The rows that hang off an execution (table, its execution id column), deleted with it.</summary>
    private static readonly (string Table, string ExecutionId)[] Dependents =
    [
        (LogEntryColumns.Table, LogEntryColumns.ExecutionId), (StateChangeColumns.Table, StateChangeColumns.ExecutionId),
        (AttemptColumns.Table, AttemptColumns.ExecutionId), (WorkTaskColumns.Table, WorkTaskColumns.ExecutionId),
    ];

    private const string ReadState =
        $"SELECT {ExecutionColumns.State}, {ExecutionColumns.AttemptCount}, {ExecutionColumns.DagRunId}, {ExecutionColumns.Priority}, {ExecutionColumns.Kind}, " +
        $"{ExecutionColumns.HangfireJobId} FROM {ExecutionColumns.Table} WHERE {ExecutionColumns.Id} = @Id";

    private static async Task<(ExecutionState? State, int Attempt, long? DagRunId, int Priority, ExecutorKind Kind, string? HangfireJobId)> ReadStateAsync(DbConnection c, DbTransaction t, long id)
    {
        var read = Sql.Reused(c, t, ReadState, ("Id", id));
        await using var reader = await read.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return (null, 0, null, 0, default, null);
        return ((ExecutionState)Convert.ToInt32(reader.GetValue(0)), Convert.ToInt32(reader.GetValue(1)),
            reader.IsDBNull(2) ? null : Convert.ToInt64(reader.GetValue(2)), Convert.ToInt32(reader.GetValue(3)), (ExecutorKind)Convert.ToInt32(reader.GetValue(4)),
            reader.IsDBNull(5) ? null : reader.GetString(5));
    }

    /// <summary>
    /// Split by writer, each part on the writer of its executions: every line is committed no later than a transition of its
    /// execution issued after it (the runner issues an attempt's last lines, then closes it without waiting).
    /// </summary>
    public Task AppendLogAsync(IReadOnlyList<LogEntry> entries, CancellationToken ct = default)
    {
        if (entries.Count == 0) return Task.CompletedTask;
        if (writes.Writers == 1) return AppendLogPartAsync(entries, ct);
        var parts = entries.GroupBy(e => writes.WriterOf(e.ExecutionId)).Select(g => g.ToList()).ToList();
        return parts.Count == 1 ? AppendLogPartAsync(parts[0], ct) : AppendLogPartsAsync(parts, ct);
    }

    /// <summary>Each writer's share in its own transaction: when one fails the others may have committed, so the failure names only its own lines.</summary>
    private async Task AppendLogPartsAsync(List<List<LogEntry>> parts, CancellationToken ct)
    {
        var partWrites = parts.Select(p => AppendLogPartAsync(p, ct)).ToList();
        try
        {
            await Task.WhenAll(partWrites);
        }
        catch (Exception first)
        {
            var unwritten = parts.Where((_, i) => !partWrites[i].IsCompletedSuccessfully).SelectMany(p => p).ToList();
            throw new LogLinesNotWrittenException(unwritten, first);
        }
    }

    private const string LogColumns =
        $"{LogEntryColumns.ExecutionId}, {LogEntryColumns.AttemptNumber}, {LogEntryColumns.Stream}, {LogEntryColumns.At}, {LogEntryColumns.Text}";

    private Task AppendLogPartAsync(IReadOnlyList<LogEntry> entries, CancellationToken ct)
    {
        if (database.Provider == Core.StorageProvider.PostgreSql) return writes.RunInSetAsync(entries[0].ExecutionId, LogAppends.Instance, entries, ct);
        return writes.RunAsync(entries[0].ExecutionId, async (c, t) =>
        {
            foreach (var e in entries)
                await Sql.ExecutePreparedAsync(c, t,
                    $"INSERT INTO {LogEntryColumns.Table} ({LogColumns}) VALUES (@Id, @Attempt, @Stream, @At, @Text)",
                    ("Id", e.ExecutionId), ("Attempt", e.AttemptNumber), ("Stream", (int)e.Stream), ("At", Sql.Micros(e.At)), ("Text", e.Text));
            return true;
        }, ct);
    }

    /// <summary>
    /// PostgreSQL: log lines as one <c>unnest</c> insert. Order-free, so every flush gathered in a commit — each runner
    /// flushes its attempt's last lines as it closes it, one statement per execution before — is one statement.
    /// </summary>
    private sealed class LogAppends : StatementSet<IReadOnlyList<LogEntry>, bool>
    {
        public static readonly LogAppends Instance = new();
        public override bool OrderFree => true;

        // A data-modifying WITH runs to completion whatever the query after it reads: one row per member, as a set answers.
        // One text, alone or together, so the server keeps one prepared statement for both.
        private const string Insert =
            $"WITH x AS (INSERT INTO {LogEntryColumns.Table} ({LogColumns}) SELECT * FROM unnest(@Ids, @Attempts, @Streams, @Ats, @Texts)) " +
            "SELECT g FROM generate_series(1, @Members) AS g";

        public override (string Text, (string Name, object? Value)[] Parameters, Func<DbDataReader, Task<bool>> Read) Alone(IReadOnlyList<LogEntry> member) =>
            (Insert, [.. Columns(member), ("Members", 1)], Drain);

        public override (string Text, (string Name, object? Value)[] Parameters) Together(IReadOnlyList<IReadOnlyList<LogEntry>> members) =>
            (Insert, [.. Columns([.. members.SelectMany(m => m)]), ("Members", members.Count)]);

        public override bool ReadRow(DbDataReader reader, IReadOnlyList<LogEntry> member) => true;

        private static (string Name, object? Value)[] Columns(IReadOnlyList<LogEntry> entries) =>
            [("Ids", entries.Select(e => e.ExecutionId).ToArray()), ("Attempts", entries.Select(e => e.AttemptNumber).ToArray()),
             ("Streams", entries.Select(e => (int)e.Stream).ToArray()), ("Ats", entries.Select(e => Sql.Micros(e.At)).ToArray()),
             ("Texts", entries.Select(e => e.Text).ToArray())];
    }

    private static async Task<bool> Drain(DbDataReader reader)
    {
        while (await reader.ReadAsync()) { }
        return true;
    }

    /// <summary>How many job ids the statement stored; the ones it skipped are logged (how often a cluster's nodes meet there).</summary>
    private async Task<bool> NotedAsync(DbDataReader reader, int asked)
    {
        var noted = await reader.ReadAsync() ? Convert.ToInt32(reader.GetValue(0)) : asked;
        while (await reader.ReadAsync()) { }
        if (noted < asked)
            logger?.LogDebug("Stored {Noted} of {Asked} job ids: the others' records were held by another transaction or are gone (a claim names its job itself)",
                noted, asked);
        return true;
    }

    public Task SetHangfireJobAsync(long id, string jobId, CancellationToken ct = default) => SetHangfireJobsAsync([(id, jobId)], ct);

    /// <summary>On PostgreSQL one statement per writer for the lot (an array of ids and one of job ids), else one per record.</summary>
    public Task SetHangfireJobsAsync(IReadOnlyList<(long Id, string JobId)> jobs, CancellationToken ct = default)
    {
        if (jobs.Count == 0) return Task.CompletedTask;
        var parts = jobs.GroupBy(j => writes.WriterOf(j.Id)).Select(g => SetHangfireJobsPartAsync(g.ToList(), ct)).ToList();
        return parts.Count == 1 ? parts[0] : Task.WhenAll(parts);
    }

    private Task SetHangfireJobsPartAsync(IReadOnlyList<(long Id, string JobId)> jobs, CancellationToken ct)
    {
        // On PostgreSQL rows another transaction holds are skipped, not waited for: on a cluster that is mostly another node
        // claiming one of the batch's records (its worker fetched the job at once), and waiting for it deadlocked against
        // that node's group commit (BENCHMARKS.md, session 17). A claim stores the job it runs in itself. A record held by
        // anything else at that instant (a cancel, a delay) keeps the job it named: were that one not live, the reconciler
        // gives the record a job after its grace, and its compare-and-set claims keep a second job from running it twice.
        if (database.Provider == Core.StorageProvider.PostgreSql)
            return writes.RunStatementAsync(jobs[0].Id,
                $"WITH l AS MATERIALIZED (SELECT {ExecutionColumns.Id} AS i FROM {ExecutionColumns.Table} WHERE {ExecutionColumns.Id} = ANY(@Ids) FOR NO KEY UPDATE SKIP LOCKED), " +
                $"x AS (UPDATE {ExecutionColumns.Table} SET {ExecutionColumns.HangfireJobId} = v.j FROM unnest(@Ids, @Jobs) AS v(i, j) JOIN l ON l.i = v.i " +
                $"WHERE {ExecutionColumns.Id} = v.i RETURNING 1) SELECT count(*) FROM x",
                [("Ids", jobs.Select(j => j.Id).ToArray()), ("Jobs", jobs.Select(j => j.JobId).ToArray())], reader => NotedAsync(reader, jobs.Count), ct);
        return writes.RunAsync(jobs[0].Id, async (c, t) =>
        {
            foreach (var (id, job) in jobs)
                await Sql.ExecutePreparedAsync(c, t, $"UPDATE {ExecutionColumns.Table} SET {ExecutionColumns.HangfireJobId} = @Job WHERE {ExecutionColumns.Id} = @Id", ("Job", job), ("Id", id));
            return true;
        }, ct);
    }

    public Task SetProgressAsync(long id, double? progress, string? message, CancellationToken ct = default) =>
        writes.RunAsync(id, (c, t) => Sql.ExecutePreparedAsync(c, t,
            $"UPDATE {ExecutionColumns.Table} SET {ExecutionColumns.Progress} = @Progress, {ExecutionColumns.ProgressMessage} = @Message " +
            $"WHERE {ExecutionColumns.Id} = @Id AND {ExecutionColumns.State} IN (@Running, @Cancelling)",
            ("Progress", progress), ("Message", message), ("Id", id), ("Running", (int)ExecutionState.Running), ("Cancelling", (int)ExecutionState.Cancelling)), ct);

    public Task<(bool Deleted, ExecutionState? FoundState)> DeleteTerminalAsync(long id, CancellationToken ct = default) =>
        writes.RunAsync<(bool, ExecutionState?)>(id, async (c, t) =>
        {
            var (state, _, _, _, _, _) = await ReadStateAsync(c, t, id);
            if (state is null || !state.Value.IsTerminal()) return (false, state);
            var terminal = string.Join(", ", ExecutionStates.Terminal.Select(s => (int)s));
            foreach (var (table, executionId) in Dependents)
                await Sql.ExecutePreparedAsync(c, t, $"DELETE FROM {table} WHERE {executionId} = @Id AND EXISTS " +
                    $"(SELECT 1 FROM {ExecutionColumns.Table} WHERE {ExecutionColumns.Id} = @Id AND {ExecutionColumns.State} IN ({terminal}))", ("Id", id));
            await Sql.ExecutePreparedAsync(c, t,
                $"DELETE FROM {DagEdgeColumns.Table} WHERE {DagEdgeColumns.ParentExecutionId} = @Id OR {DagEdgeColumns.ChildExecutionId} = @Id", ("Id", id));
            var deleted = await Sql.ExecutePreparedAsync(c, t,
                $"DELETE FROM {ExecutionColumns.Table} WHERE {ExecutionColumns.Id} = @Id AND {ExecutionColumns.State} IN ({terminal})", ("Id", id));
            return (deleted == 1, state);
        }, ct);

    public Task HeartbeatAsync(WorkerNode n, CancellationToken ct = default) =>
        writes.RunAsync(async (c, t) =>
        {
            (string, object?)[] p =
            [
                ("Id", n.Id), ("HostName", n.HostName), ("ProcessId", n.ProcessId), ("Roles", n.Roles), ("StartedAt", Sql.Micros(n.StartedAt)),
                ("HeartbeatAt", Sql.Micros(n.HeartbeatAt)), ("Cores", n.Cores), ("MemoryMB", n.MemoryMB), ("Gpus", n.Gpus),
                ("WorkerCount", n.WorkerCount), ("RunningCount", n.RunningCount), ("StoppedAt", Sql.Micros(n.StoppedAt)),
            ];
            var updated = await Sql.ExecutePreparedAsync(c, t,
                $"UPDATE {WorkerNodeColumns.Table} SET {WorkerNodeColumns.HeartbeatAt} = @HeartbeatAt, {WorkerNodeColumns.RunningCount} = @RunningCount, " +
                $"{WorkerNodeColumns.StoppedAt} = @StoppedAt, {WorkerNodeColumns.Cores} = @Cores, {WorkerNodeColumns.MemoryMB} = @MemoryMB, {WorkerNodeColumns.Gpus} = @Gpus, " +
                $"{WorkerNodeColumns.WorkerCount} = @WorkerCount, {WorkerNodeColumns.Roles} = @Roles WHERE {WorkerNodeColumns.Id} = @Id", p);
            if (updated == 0)
                await Sql.ExecutePreparedAsync(c, t,
                    $"INSERT INTO {WorkerNodeColumns.Table} ({WorkerNodeColumns.Id}, {WorkerNodeColumns.HostName}, {WorkerNodeColumns.ProcessId}, {WorkerNodeColumns.Roles}, " +
                    $"{WorkerNodeColumns.StartedAt}, {WorkerNodeColumns.HeartbeatAt}, {WorkerNodeColumns.Cores}, {WorkerNodeColumns.MemoryMB}, {WorkerNodeColumns.Gpus}, " +
                    $"{WorkerNodeColumns.WorkerCount}, {WorkerNodeColumns.RunningCount}, {WorkerNodeColumns.StoppedAt}) " +
                    "VALUES (@Id, @HostName, @ProcessId, @Roles, @StartedAt, @HeartbeatAt, @Cores, @MemoryMB, @Gpus, @WorkerCount, @RunningCount, @StoppedAt)", p);
            return true;
        }, ct);

    // Every worker reads its record before it claims it: a plain reader here costs a fraction of an EF query.
    public Task<Execution?> FindAsync(long id, CancellationToken ct = default) => ReadOneAsync($"{ExecutionColumns.Id} = @Key", id, ct);

    public Task<Execution?> FindByTaskIdAsync(string taskId, CancellationToken ct = default) => ReadOneAsync($"{ExecutionColumns.TaskId} = @Key", taskId, ct);

    public async Task<IReadOnlyList<Execution>> FindManyAsync(IReadOnlyList<long> ids, CancellationToken ct = default)
    {
        // PostgreSQL: one text whatever the count (an array), so a batch job's read does not take one of a kept
        // connection's prepared-statement slots per batch size.
        if (database.Provider == Core.StorageProvider.PostgreSql)
            return await ReadAsync($"{ExecutionColumns.Id} = ANY(@Ids)", [("Ids", ids.ToArray())], ct);
        var found = new List<Execution>(ids.Count);
        // One statement per hundred ids, the ids as parameters: the same text on every provider, and few texts to prepare.
        foreach (var chunk in ids.Chunk(100))
        {
            var where = $"{ExecutionColumns.Id} IN (" + string.Join(", ", chunk.Select((_, i) => "@K" + i)) + ")";
            var parameters = chunk.Select((id, i) => ("K" + i, (object?)id)).ToArray();
            found.AddRange(await ReadAsync(where, parameters, ct));
        }
        return found;
    }

    private async Task<Execution?> ReadOneAsync(string where, object key, CancellationToken ct) =>
        (await ReadAsync(where, [("Key", key)], ct)) is [var one, ..] ? one : null;

    private Task<List<Execution>> ReadAsync(string where, (string Name, object? Value)[] parameters, CancellationToken ct) =>
        readers.ReadAsync($"SELECT {ExecutionRows.Columns} FROM {ExecutionColumns.Table} WHERE {where}", parameters, ExecutionRows.Read, ct);

    public async Task<IReadOnlyList<long>> FindIdsAsync(ExecutionFilter filter, int limit, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking().Matching(filter).OrderBy(e => e.Id).Select(e => e.Id).Take(limit).ToListAsync(ct);
    }

    public async Task<int> CountAsync(ExecutionFilter filter, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking().Matching(filter).CountAsync(ct);
    }

    public async Task<IReadOnlyList<DispatchRow>> FindDispatchableAsync(long afterId, int limit, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await Dispatchable(db).Where(e => e.Id > afterId).OrderBy(e => e.Id).Take(limit).Select(DispatchRowOf).ToListAsync(ct);
    }

    public async Task<IReadOnlyList<DispatchRow>> FindDispatchableAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default)
    {
        var found = new List<DispatchRow>();
        await using var db = await contexts.CreateDbContextAsync(ct);
        // Chunked: a statement's parameter count is bounded on every provider.
        foreach (var chunk in ids.Chunk(1000))
            found.AddRange(await Dispatchable(db).Where(e => chunk.Contains(e.Id)).Select(DispatchRowOf).ToListAsync(ct));
        return found;
    }

    /// <summary>Records that wait for a worker's job: Queued or Scheduled, run by this engine (not by an external worker).</summary>
    private static IQueryable<Execution> Dispatchable(TaskdeckDbContext db) => db.Executions.AsNoTracking()
        .Where(e => (e.State == ExecutionState.Queued || e.State == ExecutionState.Scheduled) && e.Kind != ExecutorKind.External);

    private static readonly System.Linq.Expressions.Expression<Func<Execution, DispatchRow>> DispatchRowOf =
        e => new DispatchRow(e.Id, e.State, e.HangfireJobId, e.Priority, e.RunAt, e.UpdatedAt);

    public async Task<IReadOnlyList<long>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking()
            .Where(e => (e.State == ExecutionState.Queued || e.State == ExecutionState.Scheduled) && e.ExpiresAt != null && e.ExpiresAt < now)
            .OrderBy(e => e.Id).Select(e => e.Id).Take(limit).ToListAsync(ct);
    }

    public async Task<IReadOnlyList<(long Id, ExecutionState State, int Attempt)>> FindOnDeadNodesAsync(DateTimeOffset leaseCutoff, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking()
            .Where(e => (e.State == ExecutionState.Running || e.State == ExecutionState.Cancelling) && e.Kind != ExecutorKind.External)
            .Where(e => !db.WorkerNodes.Any(n => n.Id == e.NodeId && n.HeartbeatAt >= leaseCutoff && n.StoppedAt == null))
            .Select(e => new { e.Id, e.State, e.AttemptCount })
            .ToListAsync(ct);
        return rows.Select(r => (r.Id, r.State, r.AttemptCount)).ToList();
    }

    public async Task<IReadOnlyList<long>> FindCancellingOnNodeAsync(string nodeId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking().Where(e => e.State == ExecutionState.Cancelling && e.NodeId == nodeId).Select(e => e.Id).ToListAsync(ct);
    }

    public async Task<IReadOnlyList<(long Id, ExecutionState State, int Attempt)>> FindActiveOnNodeAsync(string nodeId, DateTimeOffset claimedBefore, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking()
            .Where(e => (e.State == ExecutionState.Running || e.State == ExecutionState.Cancelling) && e.Kind != ExecutorKind.External
                        && e.NodeId == nodeId && e.StartedAt < claimedBefore)
            .Select(e => new { e.Id, e.State, e.AttemptCount })
            .ToListAsync(ct);
        return rows.Select(r => (r.Id, r.State, r.AttemptCount)).ToList();
    }

    public async Task<IReadOnlyList<WorkerNode>> ListNodesAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.WorkerNodes.AsNoTracking().OrderByDescending(n => n.HeartbeatAt).ToListAsync(ct);
    }

    /// <summary>
    /// How many ids past the cursor a page looks at, per row it may return: ids that never commit (a rolled-back
    /// transaction's) make holes, and a page stops short only when three in four ids of its window are holes.
    /// </summary>
    private const int CursorWindowPerRow = 4;

    public async Task<IReadOnlyList<FollowedChange>> ChangesAfterAsync(long cursor, int limit, CancellationToken ct = default, string? exceptNode = null)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        // Bounded above as well as below: PostgreSQL plans a one-sided "Id > cursor" from statistics that a fast-growing
        // history outruns (autovacuum analyses it once a minute at most; a new database not at all), guesses a third of the
        // table and scans all of it — ≈ 5 ms a pass, the largest server cost of a second node (BENCHMARKS.md, session 17).
        // A window whose upper end comes from a subquery is estimated as a narrow range, so the primary key serves it on
        // every database. It starts at the first id after the cursor, so an identity that jumps cannot stall it.
        var window = (long)limit * CursorWindowPerRow;
        var changes = db.StateChanges.Where(s => s.Id > cursor
            && s.Id <= db.StateChanges.Where(f => f.Id > cursor).Min(f => (long?)f.Id) + window);
        return exceptNode is null
            ? await Followed(db, changes).Take(limit).ToListAsync(ct)
            : Rows(await FollowedExcept(db, changes, exceptNode).Take(limit).ToListAsync(ct));
    }

    public async Task<IReadOnlyList<FollowedChange>> ChangesWithIdsAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default, string? exceptNode = null)
    {
        var found = new List<FollowedChange>();
        await using var db = await contexts.CreateDbContextAsync(ct);
        // Chunked: a statement's parameter count is bounded on every provider.
        foreach (var chunk in ids.Chunk(1000))
        {
            var changes = db.StateChanges.Where(s => chunk.Contains(s.Id));
            found.AddRange(exceptNode is null
                ? await Followed(db, changes).ToListAsync(ct)
                : Rows(await FollowedExcept(db, changes, exceptNode).ToListAsync(ct)));
        }
        return found;
    }

    /// <summary>The changes in id order, each with its record's DAG run (other nodes' DAG pages and schedulers need it).</summary>
    private static IQueryable<FollowedChange> Followed(TaskdeckDbContext db, IQueryable<StateChange> changes) =>
        from s in changes.AsNoTracking()
        join e in db.Executions on s.ExecutionId equals e.Id into records
        from e in records.DefaultIfEmpty()
        orderby s.Id
        select new FollowedChange(s, e == null ? null : e.DagRunId);

    private sealed record FollowedRow(long Id, string? NodeId, bool Own, long ExecutionId, DateTimeOffset At, ExecutionState? From, ExecutionState To,
        string? Transition, string? Reason, string? ActorName, int? AttemptNumber, long? DagRunId);

    /// <summary>
    /// As <see cref="Followed"/>, but <paramref name="node"/>'s own changes — most of what a busy node's follower reads — are
    /// not joined to their record and bring no text: their record's DAG run is looked up only for other nodes' changes
    /// (a <c>CASE</c> evaluates the subquery only in the branch taken).
    /// </summary>
    private static IQueryable<FollowedRow> FollowedExcept(TaskdeckDbContext db, IQueryable<StateChange> changes, string node) =>
        from s in changes.AsNoTracking()
        orderby s.Id
        select new FollowedRow(s.Id, s.NodeId, s.NodeId == node, s.ExecutionId, s.At, s.From, s.To,
            s.NodeId == node ? null : s.Transition, s.NodeId == node ? null : s.Reason, s.NodeId == node ? null : s.ActorName, s.AttemptNumber,
            s.NodeId == node ? null : db.Executions.Where(e => e.Id == s.ExecutionId).Select(e => e.DagRunId).FirstOrDefault());

    private static List<FollowedChange> Rows(List<FollowedRow> rows) => rows.ConvertAll(r => new FollowedChange(new StateChange
    {
        Id = r.Id, NodeId = r.NodeId, ExecutionId = r.ExecutionId, At = r.At, From = r.From, To = r.To,
        Transition = r.Transition ?? "", Reason = r.Reason, ActorName = r.ActorName, AttemptNumber = r.AttemptNumber,
    }, r.DagRunId) { IsBare = r.Own });

    public async Task<long> LatestChangeIdAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.StateChanges.MaxAsync(s => (long?)s.Id, ct) ?? 0;
    }

    private static string Json(IReadOnlyList<string> values) => values.Count == 0 ? "[]" : JsonSerializer.Serialize(values);
    internal static string TagsText(IReadOnlyList<string> tags) => TagText.Encode(tags);
}
