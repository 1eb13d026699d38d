using Taskdeck.Bench.Dags;

// dotnet run -c Release --project bench -- <benchmark> [arguments]
return args.FirstOrDefault() switch
{
    "dags" => await DagBenchmarks.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    System.Console.Error.WriteLine("usage: bench <benchmark> [arguments]\n  dags [repeats]   DAG runs: 10,000-task validate + store, parent → child latency, 1,000-task chain");
    return 2;
}
