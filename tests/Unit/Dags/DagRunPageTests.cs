using System.Text.Json;
using Bunit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using Taskdeck.Console.Components.Dags;
using Taskdeck.Core.Bulk;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Console;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Dags;

/// <summary>
/// A DAG run's page, open while someone else (another page, the API, another node) kills or restarts the run: it follows
/// that act's progress as its own, and offers no act of its own meanwhile.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class DagRunPageTests(EngineHost host) : AppTestContext(host)
{
    [Fact]
    public async Task AKillStartedElsewhere_ShowsItsProgressOnTheOpenPage_AndHoldsBackItsActions_UntilItIsDone()
    {
        var spec = JsonDocument.Parse("""
            {"tag":"page-follows-kill","tasks":{
              "first":{"job":{"task":"demo.sleep","args":{"seconds":60}},"children":["second"]},
              "second":{"job":{"task":"demo.noop"}}}}
            """).RootElement;
        var runId = (await Host.Get<DagService>().SubmitAsync(spec)).RunId!.Value;
        var first = (await Host.Get<IDagStore>().FindTaskAsync(runId, "first"))!;
        Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo($"/dags/{runId}");
        var cut = Render<DagRunDetailPage>(p => p.Add(x => x.Id, runId));
        var kill = () => cut.FindAll("button").Single(b => b.TextContent.Contains("Kill run"));
        cut.WaitForAssertion(() => Assert.False(kill().HasAttribute("disabled")), Deadline);

        // Another live node holds the act (so this one leaves it alone); the test moves it on as that node would.
        var contexts = Host.Services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>();
        var other = new WorkerNode { Id = "kill-elsewhere-" + Guid.NewGuid().ToString("N")[..6], HostName = "elsewhere", Roles = "workers", StartedAt = DateTimeOffset.UtcNow, HeartbeatAt = DateTimeOffset.UtcNow.AddHours(1), WorkerCount = 1 };
        await using (var db = await contexts.CreateDbContextAsync()) { db.WorkerNodes.Add(other); await db.SaveChangesAsync(); }
        try
        {
            var store = Host.Services.GetRequiredService<IBulkActionStore>();
            var act = await store.CreateAsync(new BulkAction
            {
                Kind = BulkActionKind.KillDagRun, DagRunId = runId, Total = 2, NodeId = other.Id, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
            });
            // The kill's first batch changes a task of the run, as the change feed brings it from the other node.
            Services.GetRequiredService<ExecutionEvents>().Publish(new StateChanged(first.ExecutionId, DateTimeOffset.UtcNow, ExecutionState.Running,
                ExecutionState.Cancelling, Core.Executions.Transition.RequestCancel, 1, runId, other.Id));

            cut.WaitForAssertion(() => Assert.Contains("Kill: 0 of 2 tasks", cut.Find($"[data-bulk-action='{act}']").TextContent), Deadline);
            Assert.True(kill().HasAttribute("disabled"));
            await store.FinishAsync(act, 2, 0, DateTimeOffset.UtcNow);

            cut.WaitForAssertion(() => Assert.Empty(cut.FindAll(".bulk-progress")), Deadline);
            Assert.Contains("Kill: 2 of 2 done.", Services.GetRequiredService<ISnackbar>().ShownSnackbars.Select(s => s.Message ?? ""));
        }
        finally
        {
            await using var db = await contexts.CreateDbContextAsync();
            await db.WorkerNodes.Where(n => n.Id == other.Id).ExecuteDeleteAsync();
            await Host.Get<DagService>().KillAsync(runId, Core.Audit.Actor.System);
        }
    }
}
