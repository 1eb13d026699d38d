using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Data.SqlClient;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using IsolationLevel = System.Data.IsolationLevel;
using Taskdeck.Core;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Dags;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Storage;

/// <summary>
/// No SQL Server runs where these tests run, so its SQL is checked as far as a parser can: Microsoft's own T-SQL parser
/// (ScriptDom) must accept the migrations as a script and every hand-written statement in its SQL Server form. That is
/// syntax only (see README: what is and is not verified for SQL Server).
/// </summary>
public sealed class SqlServerSqlTests
{
    private static IList<ParseError> Parse(string sql)
    {
        // Identifiers are written "Quoted" (QUOTED_IDENTIFIER ON is SQL Server's default for every client library).
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(sql);
        parser.Parse(reader, out var errors);
        return errors;
    }

    private static string Describe(IEnumerable<ParseError> errors, string sql) =>
        string.Join("\n", errors.Select(e => $"line {e.Line}, col {e.Column}: {e.Message}")) + "\n--- in ---\n" + sql;

    [Fact]
    public void TheParser_RefusesSqlThatSqlServerRefuses()
    {
        // What the check exists to catch: the other providers' forms in a SQL Server statement.
        Assert.NotEmpty(Parse("INSERT INTO \"T\" (\"A\") VALUES (@A) RETURNING \"Id\""));
        Assert.NotEmpty(Parse("SELECT \"Id\" FROM \"T\" LIMIT 10"));
        Assert.Empty(Parse("INSERT INTO \"T\" (\"A\") OUTPUT INSERTED.\"Id\" VALUES (@A)"));
    }

    [Fact]
    public void EveryMigration_AsASqlServerScript_ParsesWithoutErrors()
    {
        using var db = new SqlServerTaskdeckDbContext(new DbContextOptionsBuilder<SqlServerTaskdeckDbContext>()
            .UseSqlServer("Server=nowhere;Database=taskdeck;TrustServerCertificate=true").Options);
        var migrations = db.Database.GetMigrations().ToList();
        Assert.NotEmpty(migrations);
        // Generated, not listed: whatever migrations exist are in the script, from the empty database to the last.
        var script = db.GetService<IMigrator>().GenerateScript();
        foreach (var migration in migrations) Assert.Contains(migration, script);
        var errors = Parse(script);
        Assert.True(errors.Count == 0, Describe(errors, script));
    }

    [Fact]
    public async Task EveryHandWrittenStatement_InItsSqlServerForm_ParsesWithoutErrors()
    {
        var recorder = new Recorder();
        var database = new TaskdeckDatabase(StorageProvider.SqlServer, "Server=nowhere", () => new RecordingConnection(recorder));
        var writes = new WriteQueue(database, new WriteGate(database), NullLogger<WriteQueue>.Instance);
        using var readers = new KeptReaders(database);
        var executions = new ExecutionStore(database, writes, null!, readers);
        var dags = new DagStore(null!, database, writes, readers);
        var at = DateTimeOffset.UtcNow;

        // Each store operation that writes its own SQL, on SQL Server's branches. The recording connection answers
        // every statement without a server, so some operations end in an error after their statements were made
        // (an insert's returned ids are not there): the statements are what is checked here.
        NewExecution Spec(int i) => new() { Kind = ExecutorKind.Handler, Name = "demo.noop", TaskId = $"t{i}", Tags = ["a"], Command = ["/bin/echo"] };
        await Try(() => executions.InsertAsync([(Spec(1), ExecutionState.Queued)], at, "node"));
        await Try(() => executions.InsertAsync(Enumerable.Range(0, 150).Select(i => (Spec(i), ExecutionState.Pending)).ToList(), at, "node"));
        foreach (var rule in StateMachine.Rules.Values)
        {
            recorder.StateToRead = rule.From[0];
            await Try(() => executions.ApplyAsync(new TransitionCommand(1, rule.Transition) { ErrorMessage = "e", ResultJson = "{}", RunAt = at, NodeId = "n" }, at));
        }
        await Try(() => executions.AppendLogAsync([new LogEntry { ExecutionId = 1, AttemptNumber = 1, Stream = LogStream.Output, At = at, Text = "x" }]));
        await Try(() => executions.SetHangfireJobAsync(1, "7"));
        await Try(() => executions.SetHangfireJobsAsync([(1, "7"), (2, "8")]));
        await Try(() => executions.SetProgressAsync(1, 0.5, "half"));
        recorder.StateToRead = ExecutionState.Succeeded;
        await Try(() => executions.DeleteTerminalAsync(1));
        recorder.NonQueryResult = 0; // the heartbeat's update finds no row: its insert follows
        await Try(() => executions.HeartbeatAsync(new WorkerNode { Id = "n", HostName = "h", Roles = "Workers", StartedAt = at, HeartbeatAt = at }));
        recorder.NonQueryResult = 1;
        await Try(() => executions.FindAsync(1));
        await Try(() => executions.FindByTaskIdAsync("t1"));
        await Try(() => dags.CreateRunAsync("tag", "{}", "{}", false, at));
        await Try(() => dags.AddEdgesAsync(1, Enumerable.Range(0, 900).Select(i => ((long)i, (long)i + 1)).ToList()));
        await Try(() => dags.SetStateAsync(1, [DagRunState.Queued, DagRunState.Running], DagRunState.Running, at));
        await Try(() => dags.RemoveUnstartedTasksAsync(1, [2, 3]));
        await Try(() => dags.PendingChildrenAsync(1));
        await Try(() => dags.RunStateAsync(1));
        await Try(() => dags.UnsucceededParentAsync(2));
        await Try(() => dags.HasActiveTasksAsync(1));
        // Bulk acts: a set-based transition per rule that allows one, the set-based delete, and the act's own rows.
        foreach (var transition in StateMachine.Rules.Keys.Where(StateMachine.IsSetBased))
            await TryAny(() => executions.ApplyManyAsync(new TransitionCommand(0, transition) { Reason = "r", ActorName = "alice", NodeId = "n" }, [1, 2, 3], at));
        await TryAny(() => executions.DeleteTerminalManyAsync([1, 2]));
        var bulk = new Taskdeck.Data.Bulk.BulkActionStore(null!, database, writes);
        await TryAny(() => bulk.CreateAsync(new Taskdeck.Core.Bulk.BulkAction { Kind = Taskdeck.Core.Bulk.BulkActionKind.KillDagRun, DagRunId = 1, CreatedAt = at, UpdatedAt = at }));
        await TryAny(() => bulk.ClaimAsync(1, "n", at));
        await TryAny(() => bulk.AdvanceAsync(1, 1, 1000, 900, 100, at));
        await TryAny(() => bulk.FinishAsync(1, 900, 100, at));
        await writes.DisposeAsync();

        var statements = recorder.Statements.Distinct().ToList();
        // Every shape above was made (a new store operation joins this list when it is added to the store).
        Assert.True(statements.Count >= 25, $"only {statements.Count} statements recorded:\n{string.Join("\n", statements)}");
        Assert.Contains(statements, s => s.Contains("OUTPUT INSERTED.\"Id\"", StringComparison.Ordinal));
        Assert.Contains(statements, s => s.StartsWith("UPDATE \"Executions\"", StringComparison.Ordinal) && s.Contains("OUTPUT inserted.\"Id\"", StringComparison.Ordinal));
        Assert.Contains(statements, s => s.StartsWith("UPDATE \"BulkActions\" SET \"NodeId\"", StringComparison.Ordinal));
        Assert.DoesNotContain(statements, s => s.Contains("RETURNING", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(statements, s => s.Contains("last_insert_rowid", StringComparison.OrdinalIgnoreCase));
        // SQL Server refuses more than 2,100 parameters in one command.
        Assert.True(recorder.MaxParameters <= 2_100, $"a statement bound {recorder.MaxParameters} parameters");
        var failures = statements.Select(s => (Sql: s, Errors: Parse(s))).Where(x => x.Errors.Count > 0).ToList();
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Select(f => Describe(f.Errors, f.Sql))));
    }

    // The dashboard's statements go through EF's SqlQueryRaw, not a store's connection: their SQL Server forms are read as
    // they are kept, with the {n} placeholders bound as EF binds them (@pn).
    [Theory]
    [InlineData("BusiestSqlServer")]
    [InlineData("PercentilesSqlServer")]
    [InlineData("Outcomes")]
    public void TheDashboardsStatements_InTheirSqlServerForm_ParseWithoutErrors(string field)
    {
        var text = (string)typeof(Taskdeck.Data.Dashboard.DashboardQueries)
            .GetField(field, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.GetValue(null)!;
        var sql = text.Replace("{0}", "@p0").Replace("{1}", "@p1");
        var errors = Parse(sql);
        Assert.True(errors.Count == 0, Describe(errors, sql));
    }

    private static async Task TryAny(Func<Task> operation)
    {
        try { await operation(); }
        catch (Exception) { } // the recording connection answers no rows a reader can use: the statement is what is checked
    }

    private static async Task Try(Func<Task> operation)
    {
        try { await operation(); }
        catch (InvalidOperationException) { } // a returned id the recording connection could not give
    }

    /// <summary>What the statements said, and what the next state read answers.</summary>
    private sealed class Recorder
    {
        public ConcurrentQueue<string> Statements { get; } = new();
        public ExecutionState StateToRead { get; set; } = ExecutionState.Queued;
        public int NonQueryResult { get; set; } = 1;
        public int MaxParameters;

        public void Record(DbCommand command)
        {
            Statements.Enqueue(command.CommandText);
            InterlockedMax(ref MaxParameters, command.Parameters.Count);
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
        }
    }

    private sealed class RecordingConnection(Recorder recorder) : DbConnection
    {
        private ConnectionState _state = ConnectionState.Closed;
        [AllowNull] public override string ConnectionString { get; set; } = "";
        public override string Database => "taskdeck";
        public override string DataSource => "recording";
        public override string ServerVersion => "16.0";
        public override ConnectionState State => _state;
        public override void ChangeDatabase(string databaseName) { }
        public override void Close() => _state = ConnectionState.Closed;
        public override void Open() => _state = ConnectionState.Open;
        protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => new RecordingTransaction(this);
        protected override DbCommand CreateDbCommand() => new RecordingCommand(recorder) { Connection = this };
    }

    private sealed class RecordingTransaction(DbConnection connection) : DbTransaction
    {
        public override IsolationLevel IsolationLevel => IsolationLevel.ReadCommitted;
        protected override DbConnection DbConnection => connection;
        public override void Commit() { }
        public override void Rollback() { }
    }

    private sealed class RecordingCommand(Recorder recorder) : DbCommand
    {
        // SqlClient's own parameter collection, never executed: parameters behave as on SQL Server.
        private readonly SqlCommand _parameters = new();
        [AllowNull] public override string CommandText { get; set; } = "";
        public override int CommandTimeout { get; set; }
        public override CommandType CommandType { get; set; }
        public override bool DesignTimeVisible { get; set; }
        public override UpdateRowSource UpdatedRowSource { get; set; }
        protected override DbConnection? DbConnection { get; set; }
        protected override DbParameterCollection DbParameterCollection => _parameters.Parameters;
        protected override DbTransaction? DbTransaction { get; set; }
        public override void Cancel() { }
        public override void Prepare() { }
        protected override DbParameter CreateDbParameter() => new SqlParameter();

        public override int ExecuteNonQuery()
        {
            recorder.Record(this);
            return recorder.NonQueryResult;
        }

        public override object? ExecuteScalar()
        {
            recorder.Record(this);
            return 1L;
        }

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
        {
            recorder.Record(this);
            var table = new DataTable();
            if (CommandText.StartsWith("SELECT \"State\", \"AttemptCount\", \"DagRunId\"", StringComparison.Ordinal))
            {
                table.Columns.Add("State", typeof(int));
                table.Columns.Add("AttemptCount", typeof(int));
                table.Columns.Add("DagRunId", typeof(long));
                table.Columns.Add("Priority", typeof(int));
                table.Columns.Add("Kind", typeof(int));
                table.Columns.Add("HangfireJobId", typeof(string));
                table.Rows.Add((int)recorder.StateToRead, 1, DBNull.Value, 0, (int)ExecutorKind.Handler, DBNull.Value);
            }
            return table.CreateDataReader();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _parameters.Dispose();
            base.Dispose(disposing);
        }
    }
}
