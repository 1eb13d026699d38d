using System.Security.Claims;
using Bunit;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Console.Auth;
using Taskdeck.Console.Components.Executions;
using Taskdeck.Console.Components.Schedules;
using Taskdeck.Console.Components.Submit;
using Taskdeck.Core.Access;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Unit.Console;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Hardening;

/// <summary>
/// The console shows only what a role may do: with the app's real policies, a Viewer's execution page has no Cancel,
/// an Operator's has it (and the bulk acts, delete included) but the Submit page offers no command, an Admin's offers one;
/// a Viewer's schedule page has no Edit, Pause, Trigger or Delete. Absent, not disabled.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class RoleViewTests : AppTestContext
{
    public RoleViewTests(EngineHost host) : base(host)
    {
        // Behind bunit's services the app's own (queries, engine, the authorization policies and their handler).
        Services.AddCascadingAuthenticationState();
        // bunit puts placeholders here; the app's real policies decide instead.
        Services.AddSingleton(host.Services.GetRequiredService<Microsoft.AspNetCore.Authorization.IAuthorizationService>());
        Services.AddSingleton(host.Services.GetRequiredService<Microsoft.AspNetCore.Authorization.IAuthorizationPolicyProvider>());
    }

    private void SignInAs(string role) =>
        Services.AddSingleton<AuthenticationStateProvider>(new Fixed(Permissions.Principal("Identity.Application", role.ToLowerInvariant() + "-person", Permissions.Person,
            [new Claim(ClaimTypes.Role, role)])));

    private async Task<long> WaitingExecutionAsync()
    {
        var execution = await Host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", RunAt = DateTimeOffset.UtcNow.AddHours(1) }, Actor.System);
        return execution.Id;
    }

    private static IEnumerable<string> Buttons(IRenderedComponent<Microsoft.AspNetCore.Components.IComponent> cut) =>
        cut.FindAll("button").Select(b => b.TextContent.Trim());

    [Theory]
    [InlineData(AccessRoles.Viewer, false)]
    [InlineData(AccessRoles.Operator, true)]
    [InlineData(AccessRoles.Admin, true)]
    public async Task ExecutionPage_ShowsCancelRetryDelete_OnlyToRolesThatMayOperate(string role, bool shown)
    {
        SignInAs(role);
        var id = await WaitingExecutionAsync();
        var cut = Render<ExecutionDetailPage>(p => p.Add(x => x.Id, id));
        cut.WaitForAssertion(() => Assert.Contains($"#{id}", cut.Markup), Deadline);
        cut.WaitForAssertion(() => Assert.Contains("demo.noop", cut.Markup), Deadline);

        var buttons = cut.FindAll("button").Select(b => b.TextContent.Trim()).ToList();
        foreach (var action in new[] { "Cancel", "Retry", "Delete" })
            Assert.True(shown == buttons.Contains(action), $"{role}: '{action}' {(shown ? "missing" : "present")}; buttons: {string.Join(", ", buttons)}");
    }

    /// <summary>
    /// The role table lets an Operator delete, and POST /api/executions/bulk (delete included) needs only <c>operate</c>:
    /// the executions page's bulk acts follow the same line, for the selection and for "reset matching".
    /// </summary>
    [Theory]
    [InlineData(AccessRoles.Viewer, false)]
    [InlineData(AccessRoles.Operator, true)]
    [InlineData(AccessRoles.Admin, true)]
    public void ExecutionsPage_OffersBulkCancelRetryDeleteAndReset_ToRolesThatMayOperate(string role, bool shown)
    {
        SignInAs(role);
        var cut = Render<ExecutionsPage>();
        cut.WaitForAssertion(() => Assert.Contains("Select rows for bulk actions", cut.Markup), Deadline);
        var buttons = cut.FindAll("button").Select(b => b.TextContent.Trim()).ToList();
        foreach (var action in new[] { "Cancel selected", "Retry selected", "Delete selected", "Reset matching…" })
            Assert.True(shown == buttons.Contains(action), $"{role}: '{action}' {(shown ? "missing" : "present")}; buttons: {string.Join(", ", buttons)}");
    }

    /// <summary>
    /// The page asks the Operate policy once and hands the answer to its grid: a Viewer's rows carry no Cancel, Retry or
    /// Delete, an Operator's do.
    /// </summary>
    [Theory]
    [InlineData(AccessRoles.Viewer, false)]
    [InlineData(AccessRoles.Operator, true)]
    public async Task ExecutionsPage_DrawsRowActions_OnlyForRolesThatMayOperate(string role, bool shown)
    {
        SignInAs(role);
        var tag = "role-rows-" + Guid.NewGuid().ToString("N")[..8];
        var execution = await Host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop", RunAt = DateTimeOffset.UtcNow.AddHours(1), Tags = [tag] }, Actor.System);
        Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo($"/executions?tag={tag}");

        var cut = Render<ExecutionsPage>();
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("tbody tr.mud-table-row .state-chip")), Deadline);
        // The decision may land after the rows (the policy is asked asynchronously): wait for the toolbar's answer.
        cut.WaitForAssertion(() => Assert.Equal(shown, cut.FindAll("button").Any(b => b.TextContent.Trim() == "Cancel selected")), Deadline);

        var rowActions = cut.FindAll(".actions-cell button").Select(b => b.GetAttribute("aria-label")).ToList();
        Assert.Equal(shown ? [$"Cancel #{execution.Id}", $"Retry #{execution.Id}", $"Delete #{execution.Id}"] : [], rowActions);
    }

    [Theory]
    [InlineData(AccessRoles.Operator, false)]
    [InlineData(AccessRoles.Admin, true)]
    public void SubmitPage_OffersACommand_OnlyToRolesThatMayRunOne(string role, bool offered)
    {
        SignInAs(role);
        var cut = Render<SubmitPage>();
        cut.WaitForAssertion(() => Assert.Contains("Handler task", cut.Markup), Deadline);
        Assert.Contains("DAG", cut.Markup);
        var tabs = cut.FindAll(".mud-tab").Select(t => t.TextContent.Trim()).ToList();
        Assert.True(offered == tabs.Contains("Command"), $"{role}: tabs {string.Join(", ", tabs)}");
        if (!offered) return;
        cut.FindAll(".mud-tab").First(t => t.TextContent.Trim() == "Command").Click();
        cut.WaitForAssertion(() => Assert.Contains("Submit command", cut.Markup), Deadline);
    }

    [Theory]
    [InlineData(AccessRoles.Viewer, false)]
    [InlineData(AccessRoles.Operator, true)]
    [InlineData(AccessRoles.Admin, true)]
    public async Task SchedulePage_ShowsEditPauseTriggerDelete_OnlyToRolesThatMayUseThem(string role, bool shown)
    {
        SignInAs(role);
        var name = "role-view-" + Guid.NewGuid().ToString("N")[..8];
        var created = await Host.Services.GetRequiredService<ScheduleService>()
            .CreateAsync(new ScheduleDraft { Name = name, Cron = "0 2 * * *", Task = "demo.noop" }, Actor.System);
        Assert.True(created.Done, created.Message);
        var cut = Render<ScheduleDetailPage>(p => p.Add(x => x.Name, name));
        cut.WaitForAssertion(() => Assert.Contains("Next fire times", cut.Markup), Deadline);

        var actions = cut.Find(".schedule-actions");
        var labels = actions.QuerySelectorAll("a, button").Select(b => b.TextContent.Trim()).ToList();
        foreach (var action in new[] { "Edit", "Pause", "Trigger now", "Delete" })
            Assert.True(shown == labels.Contains(action), $"{role}: '{action}' {(shown ? "missing" : "present")}; actions: {string.Join(", ", labels)}");
    }

    private sealed class Fixed(ClaimsPrincipal user) : AuthenticationStateProvider
    {
        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(user));
    }
}
