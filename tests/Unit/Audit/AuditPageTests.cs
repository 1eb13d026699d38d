using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Components.Audit;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Audit;
using Taskdeck.Data.Executions;
using Taskdeck.Unit.Console;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.Audit;

/// <summary>The Audit page over a real database: rows from the server, links only to records that still exist, filters from the URL.</summary>
public sealed class AuditPageTests : MudTestContext, IAsyncLifetime
{
    // The rows come from a real database: on a loaded machine that can take longer than bunit's default second.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private StorageHost _storage = null!;

    async Task IAsyncLifetime.InitializeAsync()
    {
        _storage = await StorageHost.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=audit-page.db" });
        Services.AddSingleton(_storage.Get<AuditQueries>());
        Services.AddSingleton(TimeProvider.System);
        Services.AddSingleton(Options.Create(new AuditOptions()));
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await _storage.DisposeAsync();
    }

    private async Task<long> StoreCancelledExecutionAsync()
    {
        var store = _storage.Get<ExecutionStore>();
        var id = (await store.InsertAsync([(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)], DateTimeOffset.UtcNow, "node"))[0];
        await store.ApplyAsync(new TransitionCommand(id, Transition.CancelWaiting) { ActorName = "alice" }, DateTimeOffset.UtcNow);
        return id;
    }

    private Task AppendAsync(string actor, string action, AuditOutcome outcome, params long[] ids) =>
        _storage.Get<IAuditStore>().AppendAsync(new AuditEntry
        {
            At = DateTimeOffset.UtcNow, ActorName = actor, ActorKind = ActorKind.User, Address = "10.1.2.3", Action = action, Outcome = outcome,
            RecordType = AuditRecordTypes.Execution, RecordIds = "|" + string.Concat(ids.Select(i => $"{i}|")), Count = ids.Length,
        });

    [Fact]
    public async Task EachRow_LinksToItsRecord_OnlyWhileTheRecordExists()
    {
        var kept = await StoreCancelledExecutionAsync();
        var deleted = await StoreCancelledExecutionAsync();
        await AppendAsync("alice", AuditActions.Cancel, AuditOutcome.Applied, kept, deleted);
        Assert.True((await _storage.Get<ExecutionStore>().DeleteTerminalAsync(deleted)).Deleted);

        var cut = Render<AuditPage>();

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-action]")), Deadline);
        Assert.Equal("alice", cut.Find("[data-actor]").TextContent);
        Assert.Equal($"/executions/{kept}", cut.Find("a.record").GetAttribute("href"));
        Assert.Equal($"#{deleted}", cut.Find(".record.gone").TextContent);
        Assert.Contains("10.1.2.3", cut.Markup);
    }

    [Fact]
    public async Task AUserOrTokenRecord_IsNamedAsText_NeverStruckThroughAsDeleted()
    {
        await _storage.Get<IAuditStore>().AppendAsync(new AuditEntry
        {
            At = DateTimeOffset.UtcNow, ActorName = "alice", ActorKind = ActorKind.User, Action = AuditActions.CreateUser, Outcome = AuditOutcome.Applied,
            RecordType = AuditRecordTypes.User, RecordIds = "|olivia|", Count = 1,
        });

        var cut = Render<AuditPage>();

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-action]")), Deadline);
        Assert.Equal("user olivia", cut.Find(".record").TextContent);
        Assert.Empty(cut.FindAll(".record.gone"));
    }

    [Fact]
    public async Task TheFiltersInTheUrl_SelectTheRows()
    {
        await AppendAsync("alice", AuditActions.Cancel, AuditOutcome.Applied, 1);
        await AppendAsync("bob", AuditActions.Retry, AuditOutcome.Refused, 2);
        await AppendAsync("bob", AuditActions.Delete, AuditOutcome.Applied, 3);
        var navigation = Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>();
        navigation.NavigateTo("/audit?actor=bob&outcome=Applied");

        var cut = Render<AuditPage>();

        cut.WaitForAssertion(() => Assert.Equal([AuditActions.Delete], cut.FindAll("[data-action]").Select(e => e.TextContent)), Deadline);
        cut.WaitForAssertion(() => Assert.Equal("1", cut.Find("[data-total]").GetAttribute("data-total")), Deadline);
    }
}
