using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Console.Hosting;

/// <summary>
/// On the first start with an empty embedded database, submits a small demo workload so every page has something
/// alive to show: a few quick tasks, one that fails, one long task reporting progress, and a small DAG run. Taskdeck:Demo:Enabled=false
/// turns it off; a database that ever held an execution is left alone.
/// </summary>
public sealed class DemoWorkload(
    IServiceProvider services,
    TaskdeckDatabase database,
    IOptions<TaskdeckOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<DemoWorkload> logger) : BackgroundService
{
    public static IReadOnlyList<NewExecution> Workload { get; } =
    [
        new() { Name = "demo.echo", ArgumentsJson = """{"lines":["hello from Taskdeck","this ran on a Hangfire worker"]}""", Tags = ["demo"] },
        new() { Name = "demo.noop", Tags = ["demo"] },
        new() { Name = "demo.sleep", ArgumentsJson = """{"seconds":3}""", Tags = ["demo"] },
        new() { Name = "demo.sleep", ArgumentsJson = """{"seconds":8}""", Queue = "default", Priority = 5, Tags = ["demo"] },
        new() { Name = "demo.fail", ArgumentsJson = """{"message":"the demo failure: retry me from the console"}""", Tags = ["demo"] },
        new() { Name = "demo.progress", ArgumentsJson = """{"steps":120,"delayMs":1000}""", Tags = ["demo", "long"] },
    ];

    /// <summary>A small diamond of handler tasks, so the DAG pages have a run to show (no commands needed).</summary>
    public const string DemoDag = """
        {
          "tag": "demo-etl",
          "tasks": {
            "extract": { "job": { "task": "demo.echo", "args": { "lines": ["extracted 1,204 rows"] } }, "children": ["clean", "enrich"] },
            "clean": { "job": { "task": "demo.sleep", "args": { "seconds": 2 } }, "children": ["load"] },
            "enrich": { "job": { "task": "demo.progress", "args": { "steps": 5, "delayMs": 500 } }, "children": ["load"] },
            "load": { "job": { "task": "demo.sleep", "args": { "seconds": 1 } }, "children": ["report"] },
            "report": { "job": { "task": "demo.echo", "args": { "lines": ["report ready"] } } }
          }
        }
        """;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Demo.Enabled || database.Provider != StorageProvider.Sqlite) return;
        // Wait until the host has started (migrations done, workers up) before looking at the database.
        var started = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled()))
        {
            try { await started.Task; } catch (TaskCanceledException) { return; }
        }
        try
        {
            var contexts = services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>();
            await using (var db = await contexts.CreateDbContextAsync(stoppingToken))
            {
                if (await db.Executions.AnyAsync(stoppingToken) || await db.StateChanges.AnyAsync(stoppingToken)) return;
            }
            var submitted = await services.GetRequiredService<ExecutionService>().SubmitManyAsync(Workload, stoppingToken);
            using var dag = System.Text.Json.JsonDocument.Parse(DemoDag);
            var run = await services.GetRequiredService<Taskdeck.Core.Dags.DagService>().SubmitAsync(dag.RootElement, stoppingToken);
            logger.LogInformation("Empty database: submitted {Count} demo executions and DAG run {Run} (Taskdeck:Demo:Enabled=false turns this off)",
                submitted.Count, run.RunId);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "The demo workload could not be submitted");
        }
    }
}
