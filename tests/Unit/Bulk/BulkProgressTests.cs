using Bunit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Bulk;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Console;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Bulk;

/// <summary>
/// The console's bulk-act progress (BulkProgress, over Core's BulkActions): it stores and starts an act as the actor and
/// reports its result; an act under way shows how far it got, from the stored act, until it is done.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class BulkProgressTests(EngineHost host) : AppTestContext(host)
{
    private async Task<List<long>> WaitingAsync(int count)
    {
        var ids = new List<long>();
        for (var i = 0; i < count; i++)
            ids.Add((await Host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", RunAt = DateTimeOffset.UtcNow.AddHours(1) }, Actor.System)).Id);
        return ids;
    }

    private IEnumerable<string> Messages() => Services.GetRequiredService<ISnackbar>().ShownSnackbars.Select(s => s.Message ?? "");

    [Fact]
    public async Task Run_StoresTheActAsTheActor_CarriesItOut_AndReportsItsResult()
    {
        var ids = await WaitingAsync(3);
        var cut = Render<BulkProgress>();
        var draft = new BulkAction { Kind = BulkActionKind.Cancel, Reason = "progress test" };
        draft.SetIds(ids);
        var actor = new Actor("progress-tester", ActorKind.User, null);

        var act = await cut.InvokeAsync(() => cut.Instance.RunAsync(draft, actor));

        Assert.NotNull(act);
        Assert.True(act.Finished);
        Assert.Equal((3, 3, "progress-tester"), (act.Total, act.Applied, act.ActorName));
        foreach (var id in ids) await Host.WaitForStateAsync(id, ExecutionState.Cancelled);
        Assert.Contains("Cancel: 3 of 3 done.", Messages());
        Assert.False(cut.Instance.Running);
        Assert.Empty(cut.FindAll(".bulk-progress"));
    }

    [Fact]
    public async Task Follow_OfAnActUnderWay_ShowsHowFarItGot_UntilItIsDone()
    {
        // The act is held by another live node, so this one leaves it alone: the test moves it on as that node would.
        var contexts = Host.Services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>();
        var other = new WorkerNode { Id = "progress-other-" + Guid.NewGuid().ToString("N")[..6], HostName = "elsewhere", Roles = "workers", StartedAt = DateTimeOffset.UtcNow, HeartbeatAt = DateTimeOffset.UtcNow.AddHours(1), WorkerCount = 1 };
        await using (var db = await contexts.CreateDbContextAsync()) { db.WorkerNodes.Add(other); await db.SaveChangesAsync(); }
        try
        {
            var store = Host.Services.GetRequiredService<IBulkActionStore>();
            var draft = new BulkAction { Kind = BulkActionKind.Retry, NodeId = other.Id, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow };
            draft.SetIds(Enumerable.Range(1, 4).Select(i => (long)i + 900_000));
            var id = await store.CreateAsync(draft);
            var cut = Render<BulkProgress>(p => p.Add(x => x.Noun, "tasks"));

            var following = cut.InvokeAsync(() => cut.Instance.FollowAsync(id));

            cut.WaitForAssertion(() => Assert.Contains("Retry: 0 of 4 tasks", cut.Find($"[data-bulk-action='{id}']").TextContent), Deadline);
            await store.AdvanceAsync(id, 0, 900_002, 1, 1, DateTimeOffset.UtcNow);
            cut.WaitForAssertion(() => Assert.Contains("Retry: 2 of 4 tasks", cut.Find($"[data-bulk-action='{id}']").TextContent), Deadline);
            await store.FinishAsync(id, 3, 1, DateTimeOffset.UtcNow);

            var done = await following.WaitAsync(Deadline);
            Assert.Equal((3, 1), (done!.Applied, done.Skipped));
            cut.WaitForAssertion(() => Assert.Empty(cut.FindAll(".bulk-progress")), Deadline);
            Assert.Contains("Retry: 3 of 4 done. 1 skipped: their state no longer allowed it.", Messages());
        }
        finally
        {
            await using var db = await contexts.CreateDbContextAsync();
            await db.WorkerNodes.Where(n => n.Id == other.Id).ExecuteDeleteAsync();
        }
    }
}
