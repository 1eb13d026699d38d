using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.Storage;

namespace Taskdeck.E2E;

/// <summary>
/// Writes a DAG run straight into the tables the DAG pages read (DagRuns, Executions with DagRunId, DagEdges),
/// as the DAG engine would: roots queued, children waiting on their parents.
/// </summary>
public static class DagSeed
{
    public static async Task<long> DiamondAsync(IServiceProvider services, string tag)
    {
        var contexts = services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>();
        var now = DateTimeOffset.UtcNow;
        long runId;
        await using (var db = await contexts.CreateDbContextAsync())
        {
            var run = new DagRun { Tag = tag, State = DagRunState.Running, CreatedAt = now, UpdatedAt = now };
            db.DagRuns.Add(run);
            await db.SaveChangesAsync();
            runId = run.Id;
        }
        NewExecution Task(string name, bool waits) => new()
        {
            Name = "demo.echo", ArgumentsJson = $$"""{"lines":["{{name}}"]}""", DagRunId = runId, DagTaskName = name, WaitForParents = waits, Tags = [tag],
        };
        var tasks = await services.GetRequiredService<ExecutionService>().SubmitManyAsync(
            [Task("extract", false), Task("clean", true), Task("enrich", true), Task("load", true), Task("report", true)]);
        var id = tasks.ToDictionary(t => t.DagTaskName!, t => t.Id);
        await using (var db = await contexts.CreateDbContextAsync())
        {
            foreach (var (parent, child) in new[] { ("extract", "clean"), ("extract", "enrich"), ("clean", "load"), ("enrich", "load"), ("load", "report") })
                db.DagEdges.Add(new DagEdge { DagRunId = runId, ParentExecutionId = id[parent], ChildExecutionId = id[child] });
            await db.SaveChangesAsync();
        }
        return runId;
    }

    /// <summary>A work task as the work-task API stores it: an external execution plus its WorkTasks row.</summary>
    public static async Task<long> WorkTaskAsync(IServiceProvider services, string type, string project, int priority, double cores, long memoryMB)
    {
        var execution = await services.GetRequiredService<ExecutionService>().SubmitAsync(new NewExecution
        {
            Kind = ExecutorKind.External, Name = type, Priority = priority, Cores = cores, MemoryMB = memoryMB, Tags = ["worktask"],
        });
        var contexts = services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>();
        await using var db = await contexts.CreateDbContextAsync();
        db.WorkTasks.Add(new WorkTask
        {
            ExecutionId = execution.Id, WorkTaskId = Guid.NewGuid().ToString(), Type = type, ProjectId = project, Binding = WorkTaskBinding.External,
        });
        await db.SaveChangesAsync();
        return execution.Id;
    }
}
