using Taskdeck.Core.Limits;

namespace Taskdeck.Core;

/// <summary>Everything under the <c>Taskdeck</c> configuration section.</summary>
public sealed class TaskdeckOptions
{
    public const string Section = "Taskdeck";

    public StorageOptions Storage { get; set; } = new();
    public CommandOptions Commands { get; set; } = new();
    public LeaseOptions Leases { get; set; } = new();
    public NodeOptions Node { get; set; } = new();
    public LogOptions Logs { get; set; } = new();
    public RetryOptions Retry { get; set; } = new();
    public DemoOptions Demo { get; set; } = new();
    public DagOptions Dags { get; set; } = new();
    public LimitOptions Limits { get; set; } = new();
    public Secrets.SecretOptions Secrets { get; set; } = new();
    /// <summary>The firing loop's settings. (Schedules declared in configuration live under <c>Taskdeck:Schedules:&lt;name&gt;</c>.)</summary>
    public Schedules.SchedulingOptions Scheduling { get; set; } = new();
    public DispatchOptions Dispatch { get; set; } = new();
}

/// <summary>How ready executions travel to the workers (<see cref="Dispatch.ExecutionDispatcher"/>).</summary>
public sealed class DispatchOptions
{
    /// <summary>
    /// Most executions one job carries. Executions that become ready together are split into as many jobs as there are
    /// idle workers (so every worker gets some), but never more than this many in one job. Null: 100 on a server database,
    /// where each job costs the server milliseconds of its own whatever it carries (two nodes on PostgreSQL ran a burst of
    /// no-ops 20–30 % faster than at 50), 50 on the embedded SQLite, whose in-memory jobs cost little and where more of them
    /// keep more workers' writes in each group commit (at 100 the engine kept 77 % of raw Hangfire's rate, at 50 86 %;
    /// BENCHMARKS.md, session 39).
    /// </summary>
    public int? MaxBatch { get; set; }

    /// <summary><see cref="MaxBatch"/>, or its default for the storage.</summary>
    public int MaxBatchOn(StorageProvider provider) => MaxBatch ?? (provider == StorageProvider.Sqlite ? 50 : 100);

    /// <summary>
    /// Fewest executions one job carries when that many are ready together, even with more workers idle: below it Hangfire's
    /// own cost per job (dozens of statements on a server database) outweighs spreading the work one worker wider. Work that
    /// takes long is still spread: a job that has run <see cref="HandBackMilliseconds"/> hands the rest back while a worker
    /// of its node is idle.
    /// </summary>
    public int MinBatch { get; set; } = 1;

    /// <summary>A batch whose current execution has run this long hands the rest back to the queue as new jobs, for idle workers to take.</summary>
    public int HandBackMilliseconds { get; set; } = 500;
}

public enum StorageProvider { Sqlite, PostgreSql, SqlServer }

public sealed class StorageOptions
{
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;
    /// <summary>
    /// Group-commit writers committing in parallel, each on its own connection (the writes of one execution always on the
    /// same one). Null: 1 on PostgreSQL (measured the fastest: fewer, fuller commits), 4 on SQL Server. SQLite has one
    /// writer at a time: 1 there.
    /// </summary>
    public int? Writers { get; set; }
    /// <summary>
    /// How often the change follower reads other nodes' state changes when nothing wakes it sooner. On PostgreSQL a
    /// notify from the database wakes it at once and this poll is only the fallback for a missed notify.
    /// </summary>
    public int ChangePollMilliseconds { get; set; } = 500;
}

public sealed class CommandOptions
{
    /// <summary>Running processes is powerful: off unless configured.</summary>
    public bool Enabled { get; set; }
    /// <summary>
    /// Executables that may run, by absolute path (compared after resolving symlinks and <c>..</c>). <c>*</c> allows any
    /// executable: an explicit opt-in for tests and a single-user laptop, warned about at every start.
    /// </summary>
    public List<string> Allow { get; set; } = [];
    /// <summary>How long a stopped command's process group has between TERM and KILL.</summary>
    public int KillGraceSeconds { get; set; } = 5;
    /// <summary>The <c>PATH</c> every command starts with (a spec cannot set its own).</summary>
    public string Path { get; set; } = "/usr/local/bin:/usr/bin:/bin";
    /// <summary>Variable names (exact, or a prefix ending in <c>*</c>) a spec may not set, beyond <c>LD_*</c>, <c>DYLD_*</c> and <c>PATH</c>.</summary>
    public List<string> DeniedEnvironment { get; set; } = ["BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "IFS", "PS4", "WORKER_AUTH_TOKEN", "WORKTASK_*", "ORCHESTRATOR_URL", "TASKDECK_*"];
    /// <summary>
    /// Folders a command's <c>workingDirectory</c> may lie in (absolute). Empty: a spec may not name one, and every attempt
    /// runs in a temporary folder of its own, created before and removed after it.
    /// </summary>
    public List<string> WorkingDirectories { get; set; } = [];

    public bool AllowsAny => Allow.Contains("*");

    public bool IsAllowed(string executable) => Executors.CommandDoor.CheckExecutable(this, executable, out _) is null;
}

public sealed class LeaseOptions
{
    public int HeartbeatSeconds { get; set; } = 5;
    public int ExpirySeconds { get; set; } = 30;
    /// <summary>How often queued work without a live Hangfire job is looked for.</summary>
    public int ReconcileSeconds { get; set; } = 15;
}

public sealed class NodeOptions
{
    /// <summary>Defaults to the host name; the process id and a random suffix make each run's id unique.</summary>
    public string? Name { get; set; }
    public double Cores { get; set; } = System.Environment.ProcessorCount;
    public long MemoryMB { get; set; } = DefaultMemoryMB();
    public int Gpus { get; set; }
    /// <summary>Hangfire worker threads.</summary>
    public int WorkerCount { get; set; } = Math.Max(20, System.Environment.ProcessorCount * 10);
    /// <summary>"Console", "Workers", or both (comma-separated).</summary>
    public string Roles { get; set; } = "Console,Workers";

    public bool RunsWorkers => Roles.Contains("Workers", StringComparison.OrdinalIgnoreCase);
    public bool RunsConsole => Roles.Contains("Console", StringComparison.OrdinalIgnoreCase);

    private static long DefaultMemoryMB() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024);
}

public sealed class LogOptions
{
    /// <summary>Each of an attempt's three logs is cut here, with a visible mark.</summary>
    public int MaxBytesPerStream { get; set; } = 1024 * 1024;
}

public sealed class RetryOptions
{
    /// <summary>An error that mentions one of these is transient (retried under <c>TransientOnly</c>).</summary>
    public List<string> TransientErrors { get; set; } = ["OOMKilled", "Evicted", "DeadlineExceeded"];
    /// <summary>Ceiling for exponential back-off.</summary>
    public int MaxBackoffSeconds { get; set; } = 3600;
    /// <summary>
    /// Retries that may follow at once (or after the task's own interval). Past them the pause doubles from
    /// <see cref="MinimumBackoffSeconds"/> up to <see cref="MaxBackoffSeconds"/>, whatever the task asked: a command that
    /// fails at once with a hundred retries left must not become a storm of attempts.
    /// </summary>
    public int ImmediateRetries { get; set; } = 3;
    public int MinimumBackoffSeconds { get; set; } = 1;
}

public sealed class DemoOptions
{
    public bool Enabled { get; set; } = true;
}
