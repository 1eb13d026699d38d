using Taskdeck.Bench.Chaos;
using Taskdeck.Bench.Console;
using Taskdeck.Bench.Dags;
using Taskdeck.Bench.Engine;
using Taskdeck.Bench.Schedules;

// One dispatcher for every benchmark: `dotnet run -c Release --project bench -- <name> [args]`.
var name = args.Length > 0 ? args[0] : "";
var rest = args.Skip(1).ToArray();
return name switch
{
    "engine" => await EngineBenchmark.RunAsync(rest),
    "dags" => await DagBenchmarks.RunAsync(rest),
    "console" => await ConsoleQueriesBench.RunAsync(rest),
    "console-live" => await ConsoleLiveBench.RunAsync(rest),
    "chaos" => await Chaos(rest),
    "schedules" => await ScheduleBenchmark.RunAsync(rest),
    _ => Usage(),
};

static async Task<int> Chaos(string[] rest)
{
    var rounds = rest.Length > 0 ? int.Parse(rest[0]) : 50;
    var tasks = rest.Length > 1 ? int.Parse(rest[1]) : 1000;
    var report = await new ChaosRun(rounds, tasks, dagSize: 10, System.Console.WriteLine).RunAsync();
    System.Console.WriteLine(report);
    return report.Problems.Count == 0 ? 0 : 1;
}

static int Usage()
{
    System.Console.Error.WriteLine("usage: dotnet run -c Release --project bench -- <benchmark> [args]");
    System.Console.Error.WriteLine("  engine [N] [rounds]   end-to-end no-op executions/s on the embedded default, and raw Hangfire no-op jobs/s");
    System.Console.Error.WriteLine("    --storage postgresql  the same on a throwaway PostgreSQL cluster (or TASKDECK_BENCH_PG) against raw Hangfire.PostgreSql; --raw N, --warmup N (default 50,000 here: the node must reach its optimised code), --set Key=Value, --statements (pg_stat_statements: statements per item), --nodes N (N node processes on one database)");
    System.Console.Error.WriteLine("  engine profile [N]    the same work split into its layers (submit, read, claim + succeed, runner), each timed alone");
    System.Console.Error.WriteLine("  dags [repeats]        DAG runs: 10,000-task validate + store, parent -> child latency, 1,000-task chain");
    System.Console.Error.WriteLine("    --storage postgresql  (with any dags form but big) the same on a throwaway PostgreSQL cluster (or TASKDECK_BENCH_PG) with Hangfire.PostgreSql; --set Key=Value");
    System.Console.Error.WriteLine("  dags store [repeats]  only the 10,000-task validate + store");
    System.Console.Error.WriteLine("  dags chain [repeats] [--storage postgresql [--statements]]  only the chains (and the independent no-ops beside them); --statements: what PostgreSQL ran per task");
    System.Console.Error.WriteLine("  dags big [tasks] [--same-node] [--fresh-get] [--keep DIR] [--env K=V]  a 200,000-task DAG (server as its own process): kill over HTTP (answer, all Cancelled, peak RSS), then the streamed GET's peak RSS");
    System.Console.Error.WriteLine("  dags fanin             1,024 and 10,000 no-op tasks feeding one join: submit -> COMPLETED");
    System.Console.Error.WriteLine("  chaos [rounds] [tasks] SIGKILL the console at random moments while mixed work runs, restart on the same file; check every execution succeeded once");
    System.Console.Error.WriteLine("  schedules [N] [s]     the firing loop's CPU at idle with 0 and N schedules (s-second windows), and the lateness of a slot due every second among them");
    System.Console.Error.WriteLine("  console [rows]        console read models (grid pages, dashboard aggregates) on a big embedded database");
    System.Console.Error.WriteLine("  console-live [pages] [executions] [--in-flight K] [--warmup N] [--warmup-rounds R] [--env K=V] [--node-cpus LIST]  N live pages in headless Chromium: node CPU per execution and throughput with them and without, RSS per circuit and after they close");
    return 2;
}
