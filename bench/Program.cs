// Benchmarks behind BENCHMARKS.md; the first argument picks one.
//   dotnet run -c Release --project bench -- console [rows]   console read models on a big embedded database
return args.FirstOrDefault() switch
{
    "console" => await Taskdeck.Bench.Console.ConsoleQueriesBench.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    System.Console.Error.WriteLine("usage: bench <console> [options]");
    return 2;
}
