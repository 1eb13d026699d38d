using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Core.Workers;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Data.Storage;

/// <summary>
/// The schema, shared by every provider. Times are stored as microseconds since the Unix epoch (integers): they
/// compare, subtract and bucket the same way in SQLite, PostgreSQL and SQL Server, and keep daggy's sub-ms precision.
/// Each provider has a derived context only so that each has its own migrations.
/// </summary>
public abstract class TaskdeckDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Execution> Executions => Set<Execution>();
    public DbSet<Attempt> Attempts => Set<Attempt>();
    public DbSet<LogEntry> LogEntries => Set<LogEntry>();
    public DbSet<StateChange> StateChanges => Set<StateChange>();
    public DbSet<WorkerNode> WorkerNodes => Set<WorkerNode>();
    public DbSet<DagRun> DagRuns => Set<DagRun>();
    public DbSet<DagRunStateChange> DagRunStateChanges => Set<DagRunStateChange>();
    public DbSet<DagEdge> DagEdges => Set<DagEdge>();
    public DbSet<WorkTask> WorkTasks => Set<WorkTask>();
    public DbSet<MetricSample> MetricSamples => Set<MetricSample>();
    public DbSet<AuditEntry> AuditEntries => Set<AuditEntry>();
    public DbSet<Schedule> Schedules => Set<Schedule>();
    public DbSet<ScheduleFiring> ScheduleFirings => Set<ScheduleFiring>();
    public DbSet<Core.Bulk.BulkAction> BulkActions => Set<Core.Bulk.BulkAction>();

    /// <summary>Tags as <c>|a|b|</c> (see <see cref="TagText"/>), kept beside the JSON list so a tag filter is one substring test on every provider.</summary>
    public const string TagsText = "TagsText";

    protected override void ConfigureConventions(ModelConfigurationBuilder configuration)
    {
        configuration.Properties<DateTimeOffset>().HaveConversion<UnixMicrosecondsConverter>();
        configuration.Properties<List<string>>().HaveConversion<JsonListConverter, JsonListComparer>();
    }

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<Execution>(e =>
        {
            e.HasKey(x => x.Id);
            e.Property(x => x.TaskId).HasMaxLength(64);
            e.Property(x => x.Name).HasMaxLength(400);
            e.Property(x => x.Queue).HasMaxLength(100);
            e.Property(x => x.DagTaskName).HasMaxLength(400);
            e.Property(x => x.NodeId).HasMaxLength(200);
            e.Property(x => x.HangfireJobId).HasMaxLength(100);
            e.Property<string>(TagsText).HasMaxLength(TagText.MaxLength).HasDefaultValue("|");
            Schema.Map(e, typeof(Schema.ExecutionColumns));
            e.Ignore(x => x.RetriesRemain);
            e.HasIndex(x => x.TaskId).IsUnique();
            e.HasIndex(x => new { x.State, x.Id });
            e.HasIndex(x => x.CreatedAt);
            e.HasIndex(x => new { x.Name, x.State });
            e.HasIndex(x => new { x.Queue, x.State });
            // Every state change rewrites every index of the record (State is a key, so no update is heap-only), in each
            // index whose predicate the new version meets. So the indexes that only some records or some states need hold
            // only those (partial): DAG tasks, a schedule's runs (every query on them compares DagRunId or ScheduleName with a
            // value, which implies NOT NULL), ended records by end time (every query compares FinishedAt with a time), and what
            // runs on a node (asked only of running or cancelling work). A plain execution's insert, claim and close write
            // 6 + 7 + 7 index entries instead of 13 each.
            e.HasIndex(x => new { x.FinishedAt, x.State }).HasFilter(NotNull(nameof(Execution.FinishedAt)));
            e.HasIndex(x => new { x.NodeId, x.State }).HasFilter(StateIn(ExecutionStates.Active));
            // External work tasks by state, looked over every second for timeouts and confirmed cancels: read through the
            // (State, Id) index, that look walked every running record's entries — dead ones of records long ended among them
            // until vacuum — ≈ 16 µs of server time per execution on a busy node (BENCHMARKS.md, session 35). No other record is in it.
            e.HasIndex(x => new { x.State, x.Id }, "IX_Executions_External_State").HasFilter($"{Column(nameof(Execution.Kind))} = {(int)ExecutorKind.External}");
            var dagTask = NotNull(nameof(Execution.DagRunId));
            e.HasIndex(x => new { x.DagRunId, x.DagTaskName }).HasFilter(dagTask);
            e.HasIndex(x => new { x.DagRunId, x.State }).HasFilter(dagTask); // a run's tasks by state: is anything in flight, counts
            e.HasIndex(x => new { x.DagRunId, x.Id }).HasFilter(dagTask); // a run's tasks a page at a time (the streamed GET, a kill's batches)
            e.Property(x => x.ScheduleName).HasMaxLength(200);
            e.HasIndex(x => new { x.ScheduleName, x.State }).HasFilter(NotNull(nameof(Execution.ScheduleName))); // a schedule's runs, and whether one is still going
            // PostgreSQL: half of each page left free for the records' next versions, so an update that changes no key
            // (the Hangfire job ids the dispatcher stores for a whole submission in one transaction, progress) is heap-only
            // — no index entry written — and a state change's new version stays on its page. At 70 % a page's rows could
            // not all take a new version in one transaction (a 190-byte record: 26 rows, room for 11).
            if (Database.IsNpgsql()) e.HasStorageParameter("fillfactor", 50);
        });
        model.Entity<Attempt>(e =>
        {
            Schema.Map(e, typeof(Schema.AttemptColumns));
            e.HasKey(x => new { x.ExecutionId, x.Number });
            e.Property(x => x.NodeId).HasMaxLength(200);
            ReferencesItsExecution(e, x => x.ExecutionId);
            // No index by end time or outcome: attempts are read by their execution only, and an index on FinishedAt made
            // every close a non-heap-only update on PostgreSQL (two index entries per attempt that nothing read). Room on each
            // page for its attempts' closes, so a close is heap-only (no primary-key entry either) — at the price of a table
            // about twice its packed size.
            if (Database.IsNpgsql()) e.HasStorageParameter("fillfactor", 50);
        });
        model.Entity<LogEntry>(e =>
        {
            Schema.Map(e, typeof(Schema.LogEntryColumns));
            e.HasKey(x => x.Id);
            ReferencesItsExecution(e, x => x.ExecutionId);
            e.HasIndex(x => new { x.ExecutionId, x.AttemptNumber, x.Id });
        });
        model.Entity<StateChange>(e =>
        {
            Schema.Map(e, typeof(Schema.StateChangeColumns));
            e.HasKey(x => x.Id);
            e.Property(x => x.Transition).HasMaxLength(40);
            e.Property(x => x.NodeId).HasMaxLength(200);
            e.Property(x => x.ActorName).HasMaxLength(200);
            ReferencesItsExecution(e, x => x.ExecutionId);
            e.HasIndex(x => new { x.ExecutionId, x.Id });
        });
        model.Entity<WorkerNode>(e =>
        {
            Schema.Map(e, typeof(Schema.WorkerNodeColumns));
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(200);
            e.HasIndex(x => x.HeartbeatAt);
        });
        model.Entity<DagRun>(e =>
        {
            Schema.Map(e, typeof(Schema.DagRunColumns));
            e.HasKey(x => x.Id);
            e.Property(x => x.Tag).HasMaxLength(400);
            e.HasIndex(x => new { x.State, x.Id });
            e.Property(x => x.ScheduleName).HasMaxLength(200);
            e.HasIndex(x => new { x.ScheduleName, x.State });
        });
        model.Entity<DagRunStateChange>(e =>
        {
            Schema.Map(e, typeof(Schema.DagRunStateChangeColumns));
            e.HasKey(x => x.Id);
            e.HasOne<DagRun>().WithMany().HasForeignKey(x => x.DagRunId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.DagRunId, x.Id });
        });
        model.Entity<DagEdge>(e =>
        {
            Schema.Map(e, typeof(Schema.DagEdgeColumns));
            e.HasKey(x => new { x.DagRunId, x.ParentExecutionId, x.ChildExecutionId });
            e.HasOne<DagRun>().WithMany().HasForeignKey(x => x.DagRunId).OnDelete(DeleteBehavior.Cascade);
            // A child's parents in id order: a join's scheduler reads its latest unsucceeded parent from the top and stops
            // there (DagStore.UnsucceededParentAsync), instead of visiting every parent of a 10,000-parent join.
            e.HasIndex(x => new { x.ChildExecutionId, x.ParentExecutionId });
            e.HasIndex(x => x.ParentExecutionId);
        });
        model.Entity<WorkTask>(e =>
        {
            Schema.Map(e, typeof(Schema.WorkTaskColumns));
            e.HasKey(x => x.ExecutionId);
            e.Property(x => x.WorkTaskId).HasMaxLength(64);
            e.Property(x => x.Type).HasMaxLength(100);
            e.Property(x => x.ProjectId).HasMaxLength(200);
            e.Property(x => x.WorkerTokenHash).HasMaxLength(64);
            e.HasOne<Execution>().WithOne().HasForeignKey<WorkTask>(x => x.ExecutionId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => x.WorkTaskId).IsUnique();
            e.HasIndex(x => x.Type);
            e.HasIndex(x => x.ProjectId);
        });
        model.Entity<Schedule>(e =>
        {
            Schema.Map(e, typeof(Schema.ScheduleColumns));
            e.HasKey(x => x.Id);
            e.Property(x => x.Name).HasMaxLength(ScheduleService.MaxNameLength);
            e.Property(x => x.Cron).HasMaxLength(200);
            e.Property(x => x.TimeZone).HasMaxLength(100);
            e.Property(x => x.Task).HasMaxLength(400);
            e.Property(x => x.Queue).HasMaxLength(100);
            e.HasIndex(x => x.Name).IsUnique();
        });
        model.Entity<ScheduleFiring>(e =>
        {
            Schema.Map(e, typeof(Schema.ScheduleFiringColumns));
            e.HasKey(x => x.Id);
            e.Property(x => x.NodeId).HasMaxLength(200);
            e.HasOne<Schedule>().WithMany().HasForeignKey(x => x.ScheduleId).OnDelete(DeleteBehavior.Cascade);
            // The exactly-once guarantee: a slot of a schedule has one row, written with the run it starts.
            e.HasIndex(x => new { x.ScheduleId, x.Slot }).IsUnique();
            e.HasIndex(x => new { x.ScheduleId, x.Id });
            e.HasIndex(x => new { x.Outcome, x.ScheduleId });
        });
        model.Entity<MetricSample>(e =>
        {
            e.ToTable("MetricSamples");
            e.HasKey(x => x.At);
        });
        model.Entity<Core.Bulk.BulkAction>(e =>
        {
            // No foreign keys: an act names its run and records by id, and may outlive them.
            Schema.Map(e, typeof(Schema.BulkActionColumns));
            e.HasKey(x => x.Id);
            e.Property(x => x.ActorName).HasMaxLength(200);
            e.Property(x => x.ActorAddress).HasMaxLength(64);
            e.Property(x => x.Reason).HasMaxLength(1000);
            e.Property(x => x.NodeId).HasMaxLength(200);
            e.Ignore(x => x.Actor);
            e.Ignore(x => x.Finished);
            e.HasIndex(x => new { x.FinishedAt, x.Id }); // the unfinished ones, looked for every few seconds
            e.HasIndex(x => new { x.DagRunId, x.FinishedAt });
        });
        model.Entity<AuditEntry>(e =>
        {
            // No foreign keys: an entry names records by id and outlives them.
            Schema.Map(e, typeof(Schema.AuditEntryColumns));
            e.HasKey(x => x.Id);
            e.Property(x => x.ActorName).HasMaxLength(200);
            e.Property(x => x.Address).HasMaxLength(64);
            e.Property(x => x.Action).HasMaxLength(60);
            e.Property(x => x.RecordType).HasMaxLength(40);
            e.Property(x => x.Filter).HasMaxLength(2000);
            e.Property(x => x.Reason).HasMaxLength(1000);
            e.Ignore(x => x.Ids);
            e.HasIndex(x => x.At); // newest first, time ranges, and retention's delete
            e.HasIndex(x => new { x.ActorName, x.At });
            e.HasIndex(x => new { x.Action, x.At });
        });
    }

    /// <summary>
    /// An attempt, log line or history row belongs to its execution. On PostgreSQL that is not a foreign key: every one
    /// of these rows is written on an execution's hot path (a run's claim and end write an attempt and two history rows,
    /// a no-op's line a log row), and each foreign key check there is a query of its own that also locks the execution's
    /// new row version (<c>FOR KEY SHARE</c>, one more WAL record and dirtied page per row) — about a tenth of the server's
    /// CPU per execution in the engine bench (BENCHMARKS.md, session 25). Nothing relies on the cascade: every delete of an
    /// execution deletes these rows itself first, in its transaction (<c>ExecutionStore.Dependents</c>). SQLite and SQL
    /// Server keep the key.
    /// </summary>
    private void ReferencesItsExecution<T>(Microsoft.EntityFrameworkCore.Metadata.Builders.EntityTypeBuilder<T> entity,
        System.Linq.Expressions.Expression<Func<T, object?>> executionId) where T : class
    {
        if (!Database.IsNpgsql()) entity.HasOne<Execution>().WithMany().HasForeignKey(executionId).OnDelete(DeleteBehavior.Cascade);
    }

    /// <summary>A partial index's filter "column IS NOT NULL" in the provider's quoting.</summary>
    private string NotNull(string column) => $"{Column(column)} IS NOT NULL";

    /// <summary>Written as EF writes <c>State == A || State == B</c>, so that SQLite, which matches a partial index's terms literally, finds it.</summary>
    private string StateIn(IReadOnlyList<ExecutionState> states) => $"{Column(nameof(Execution.State))} IN ({string.Join(", ", states.Select(s => (int)s))})";

    private string Column(string column) => Database.IsSqlServer() ? $"[{column}]" : $"\"{column}\"";

    public static long ToMicros(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
    public static DateTimeOffset FromMicros(long micros) => new(DateTimeOffset.UnixEpoch.UtcTicks + micros * 10, TimeSpan.Zero);

    /// <summary>Times stored as microseconds since the Unix epoch (UTC): sortable and comparable on every provider. The access context uses it too.</summary>
    internal sealed class UnixMicrosecondsConverter() : ValueConverter<DateTimeOffset, long>(v => ToMicros(v), v => FromMicros(v));

    private sealed class JsonListConverter() : ValueConverter<List<string>, string>(
        v => JsonSerializer.Serialize(v, (JsonSerializerOptions?)null),
        v => JsonSerializer.Deserialize<List<string>>(v, (JsonSerializerOptions?)null) ?? new List<string>());

    private sealed class JsonListComparer() : Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer<List<string>>(
        (a, b) => (a ?? new List<string>()).SequenceEqual(b ?? new List<string>()),
        v => v.Aggregate(0, (h, s) => HashCode.Combine(h, s.GetHashCode())),
        v => v.ToList());
}

public sealed class SqliteTaskdeckDbContext(DbContextOptions<SqliteTaskdeckDbContext> options) : TaskdeckDbContext(options);
public sealed class PostgreSqlTaskdeckDbContext(DbContextOptions<PostgreSqlTaskdeckDbContext> options) : TaskdeckDbContext(options);
public sealed class SqlServerTaskdeckDbContext(DbContextOptions<SqlServerTaskdeckDbContext> options) : TaskdeckDbContext(options);
