using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Taskdeck.Data.Storage;

/// <summary>
/// The one column map: the names of the tables and columns, used both by the EF model (<see cref="Map{T}"/>, called from
/// <see cref="TaskdeckDbContext"/>: <c>ToTable</c>, <c>HasColumnName</c>) and by the hand-written SQL, so a rename here renames
/// both — and the migrations must follow (SchemaMapTests fails while the model differs from the migrations' snapshot).
/// </summary>
/// <remarks>
/// In a table's class each constant is named after the entity's property and holds its column's name as SQL writes it: in
/// double quotes, which every provider reads as a quoted identifier (SQL Server with QUOTED_IDENTIFIER on, its default), so
/// PostgreSQL keeps the name's case. <c>Table</c> is the table's name. SchemaMapTests checks on each provider's model that a
/// table's constants and the columns the model maps for it are the same set.
/// </remarks>
public static class Schema
{
    /// <summary>An execution record: one task run, across its attempts.</summary>
    public static class ExecutionColumns
    {
        public const string Table = "\"Executions\"";
        public const string Id = "\"Id\"", TaskId = "\"TaskId\"", Kind = "\"Kind\"", Name = "\"Name\"", ArgumentsJson = "\"ArgumentsJson\"", Command = "\"Command\"",
            Environment = "\"Environment\"", WorkingDirectory = "\"WorkingDirectory\"", Queue = "\"Queue\"", Priority = "\"Priority\"", State = "\"State\"",
            AttemptCount = "\"AttemptCount\"", MaxRetries = "\"MaxRetries\"", RetryIntervalSeconds = "\"RetryIntervalSeconds\"",
            ExponentialBackoff = "\"ExponentialBackoff\"", RetryPolicy = "\"RetryPolicy\"", TimeoutSeconds = "\"TimeoutSeconds\"", RunAt = "\"RunAt\"",
            ExpiresAt = "\"ExpiresAt\"", CreatedAt = "\"CreatedAt\"", UpdatedAt = "\"UpdatedAt\"", StartedAt = "\"StartedAt\"", FinishedAt = "\"FinishedAt\"",
            ResultJson = "\"ResultJson\"", ErrorMessage = "\"ErrorMessage\"", Progress = "\"Progress\"", ProgressMessage = "\"ProgressMessage\"", Tags = "\"Tags\"",
            DagRunId = "\"DagRunId\"", DagTaskName = "\"DagTaskName\"", IsGenerator = "\"IsGenerator\"", NodeId = "\"NodeId\"", HangfireJobId = "\"HangfireJobId\"",
            Cores = "\"Cores\"", MemoryMB = "\"MemoryMB\"", Gpus = "\"Gpus\"", ScheduleName = "\"ScheduleName\"", ScheduleSlot = "\"ScheduleSlot\"",
            TagsText = "\"TagsText\"";
    }

    /// <summary>One attempt of an execution (key: execution and number).</summary>
    public static class AttemptColumns
    {
        public const string Table = "\"Attempts\"";
        public const string ExecutionId = "\"ExecutionId\"", Number = "\"Number\"", NodeId = "\"NodeId\"", StartedAt = "\"StartedAt\"", FinishedAt = "\"FinishedAt\"",
            Outcome = "\"Outcome\"", Rc = "\"Rc\"", Error = "\"Error\"";
    }

    /// <summary>An attempt's output lines.</summary>
    public static class LogEntryColumns
    {
        public const string Table = "\"LogEntries\"";
        public const string Id = "\"Id\"", ExecutionId = "\"ExecutionId\"", AttemptNumber = "\"AttemptNumber\"", Stream = "\"Stream\"", At = "\"At\"", Text = "\"Text\"";
    }

    /// <summary>The history rows: one per transition, also the change feed other nodes follow.</summary>
    public static class StateChangeColumns
    {
        public const string Table = "\"StateChanges\"";
        public const string Id = "\"Id\"", ExecutionId = "\"ExecutionId\"", At = "\"At\"", From = "\"From\"", To = "\"To\"", Transition = "\"Transition\"",
            NodeId = "\"NodeId\"", Reason = "\"Reason\"", ActorName = "\"ActorName\"", AttemptNumber = "\"AttemptNumber\"";
    }

    /// <summary>A node's lease: its heartbeat and capacity.</summary>
    public static class WorkerNodeColumns
    {
        public const string Table = "\"WorkerNodes\"";
        public const string Id = "\"Id\"", HostName = "\"HostName\"", ProcessId = "\"ProcessId\"", Roles = "\"Roles\"", StartedAt = "\"StartedAt\"",
            HeartbeatAt = "\"HeartbeatAt\"", Cores = "\"Cores\"", MemoryMB = "\"MemoryMB\"", Gpus = "\"Gpus\"", WorkerCount = "\"WorkerCount\"",
            RunningCount = "\"RunningCount\"", StoppedAt = "\"StoppedAt\"";
    }

    /// <summary>The work-task API's side of an execution (key: the execution).</summary>
    public static class WorkTaskColumns
    {
        public const string Table = "\"WorkTasks\"";
        public const string ExecutionId = "\"ExecutionId\"", WorkTaskId = "\"WorkTaskId\"", Type = "\"Type\"", ProjectId = "\"ProjectId\"", Binding = "\"Binding\"",
            TaskSpecJson = "\"TaskSpecJson\"", ResourceRequirementsJson = "\"ResourceRequirementsJson\"", DataAccessJson = "\"DataAccessJson\"",
            OutputLocation = "\"OutputLocation\"", MetadataJson = "\"MetadataJson\"", RetryReason = "\"RetryReason\"", KubernetesJobName = "\"KubernetesJobName\"",
            ClusterName = "\"ClusterName\"", WorkerStartedAttempt = "\"WorkerStartedAttempt\"", WorkerTokenHash = "\"WorkerTokenHash\"",
            WorkerTokenAttempt = "\"WorkerTokenAttempt\"";
    }

    /// <summary>A DAG run.</summary>
    public static class DagRunColumns
    {
        public const string Table = "\"DagRuns\"";
        public const string Id = "\"Id\"", Tag = "\"Tag\"", State = "\"State\"", SpecJson = "\"SpecJson\"", ParametersJson = "\"ParametersJson\"",
            MayRunCommands = "\"MayRunCommands\"", CreatedAt = "\"CreatedAt\"", UpdatedAt = "\"UpdatedAt\"", ScheduleName = "\"ScheduleName\"",
            ScheduleSlot = "\"ScheduleSlot\"";
    }

    /// <summary>A DAG run's history.</summary>
    public static class DagRunStateChangeColumns
    {
        public const string Table = "\"DagRunStateChanges\"";
        public const string Id = "\"Id\"", DagRunId = "\"DagRunId\"", At = "\"At\"", State = "\"State\"";
    }

    /// <summary>A DAG run's dependency edges between executions.</summary>
    public static class DagEdgeColumns
    {
        public const string Table = "\"DagEdges\"";
        public const string DagRunId = "\"DagRunId\"", ParentExecutionId = "\"ParentExecutionId\"", ChildExecutionId = "\"ChildExecutionId\"";
    }

    /// <summary>A schedule.</summary>
    public static class ScheduleColumns
    {
        public const string Table = "\"Schedules\"";
        public const string Id = "\"Id\"", Name = "\"Name\"", Description = "\"Description\"", Cron = "\"Cron\"", TimeZone = "\"TimeZone\"", Enabled = "\"Enabled\"",
            Overlap = "\"Overlap\"", CatchUp = "\"CatchUp\"", StartAt = "\"StartAt\"", EndAt = "\"EndAt\"", JitterSeconds = "\"JitterSeconds\"", Kind = "\"Kind\"",
            Task = "\"Task\"", ArgsJson = "\"ArgsJson\"", Command = "\"Command\"", Environment = "\"Environment\"", WorkingDirectory = "\"WorkingDirectory\"",
            DagJson = "\"DagJson\"", Queue = "\"Queue\"", Priority = "\"Priority\"", Tags = "\"Tags\"", MaxRetries = "\"MaxRetries\"",
            RetryIntervalSeconds = "\"RetryIntervalSeconds\"", TimeoutSeconds = "\"TimeoutSeconds\"", FromConfiguration = "\"FromConfiguration\"",
            CreatedAt = "\"CreatedAt\"", UpdatedAt = "\"UpdatedAt\"", SlotsFrom = "\"SlotsFrom\"", LastSlot = "\"LastSlot\"";
    }

    /// <summary>A schedule's firings: one row per (schedule, slot).</summary>
    public static class ScheduleFiringColumns
    {
        public const string Table = "\"ScheduleFirings\"";
        public const string Id = "\"Id\"", ScheduleId = "\"ScheduleId\"", Slot = "\"Slot\"", FiredAt = "\"FiredAt\"", Kind = "\"Kind\"", Outcome = "\"Outcome\"",
            ExecutionId = "\"ExecutionId\"", DagRunId = "\"DagRunId\"", NodeId = "\"NodeId\"", Message = "\"Message\"";
    }

    /// <summary>A bulk act in progress or done.</summary>
    public static class BulkActionColumns
    {
        public const string Table = "\"BulkActions\"";
        public const string Id = "\"Id\"", Kind = "\"Kind\"", DagRunId = "\"DagRunId\"", IdsJson = "\"IdsJson\"", FilterJson = "\"FilterJson\"", ActorName = "\"ActorName\"",
            ActorKind = "\"ActorKind\"", ActorAddress = "\"ActorAddress\"", Reason = "\"Reason\"", Total = "\"Total\"", Applied = "\"Applied\"", Skipped = "\"Skipped\"",
            Phase = "\"Phase\"", LastId = "\"LastId\"", NodeId = "\"NodeId\"", CreatedAt = "\"CreatedAt\"", UpdatedAt = "\"UpdatedAt\"", FinishedAt = "\"FinishedAt\"";
    }

    /// <summary>An audit trail entry.</summary>
    public static class AuditEntryColumns
    {
        public const string Table = "\"AuditEntries\"";
        public const string Id = "\"Id\"", At = "\"At\"", ActorName = "\"ActorName\"", ActorKind = "\"ActorKind\"", Address = "\"Address\"", Action = "\"Action\"",
            RecordType = "\"RecordType\"", RecordIds = "\"RecordIds\"", Filter = "\"Filter\"", Count = "\"Count\"", Outcome = "\"Outcome\"", Reason = "\"Reason\"";
    }

    /// <summary>
    /// Maps the entity with a table's names: its table, and each column constant to the property of the same name (a shadow
    /// property must be declared before). A constant that names no property fails the model's building.
    /// </summary>
    public static void Map<T>(EntityTypeBuilder<T> entity, Type table) where T : class
    {
        entity.ToTable(Unquoted(TableOf(table)));
        foreach (var (property, column) in ColumnsOf(table)) entity.Property(property).HasColumnName(Unquoted(column));
    }

    /// <summary>Every table class of the map.</summary>
    public static IEnumerable<Type> Tables => typeof(Schema).GetNestedTypes().Where(t => t.IsAbstract && t.IsSealed);

    /// <summary>The table's name as SQL writes it.</summary>
    public static string TableOf(Type table) => (string)table.GetField("Table")!.GetRawConstantValue()!;

    /// <summary>A table's columns: (the property a constant is named after, the column's name as SQL writes it).</summary>
    public static IEnumerable<(string Property, string Column)> ColumnsOf(Type table) =>
        table.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.Name != "Table")
            .Select(f => (f.Name, (string)f.GetRawConstantValue()!));

    /// <summary>The name inside its double quotes (what the EF model is given).</summary>
    public static string Unquoted(string quoted) =>
        quoted is ['"', .. var name, '"'] && name.Length > 0 && !name.Contains('"')
            ? name
            : throw new ArgumentException($"{quoted} is not a name in double quotes.", nameof(quoted));
}
