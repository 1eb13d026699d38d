using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Console.Components.Schedules;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Schedules;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Console;

/// <summary>
/// Both schedule pages take each verb's policy from <see cref="ScheduleActions"/>; it must be the one the API's route
/// for that verb requires, read from the running app's endpoints (a page must not offer what the API refuses, nor hide
/// what it allows).
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class ScheduleActionsTests(EngineHost host)
{
    private string? RoutePolicy(string method, string pattern)
    {
        var endpoints = host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();
        var route = Assert.Single(endpoints, e => e.RoutePattern.RawText?.TrimEnd('/') == pattern.TrimEnd('/')
            && e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains(method) == true);
        return Assert.Single(route.Metadata.GetOrderedMetadata<IAuthorizeData>(), a => a.Policy is not null).Policy;
    }

    [Theory]
    [InlineData(ScheduleVerb.Pause, "POST", "/api/schedules/{name}/pause")]
    [InlineData(ScheduleVerb.Resume, "POST", "/api/schedules/{name}/resume")]
    [InlineData(ScheduleVerb.Trigger, "POST", "/api/schedules/{name}/trigger")]
    [InlineData(ScheduleVerb.Delete, "DELETE", "/api/schedules/{name}")]
    public void EachVerb_NeedsThePolicyItsApiRouteRequires(ScheduleVerb verb, string method, string pattern) =>
        Assert.Equal(ScheduleActions.PolicyOf(verb), RoutePolicy(method, pattern));

    [Theory]
    [InlineData("POST", "/api/schedules/")]
    [InlineData("PUT", "/api/schedules/{name}")]
    public void Editing_NeedsThePolicyTheApiRequiresToCreateAndChange(string method, string pattern) =>
        Assert.Equal(ScheduleActions.EditPolicy, RoutePolicy(method, pattern));

    [Fact]
    public void FireTimes_AreShownInTheScheduleZone_OrUtcWhenItIsUnknownHere()
    {
        var at = new DateTimeOffset(2026, 12, 3, 1, 30, 0, TimeSpan.Zero);
        Assert.Equal("Thu 2026-12-03 02:30:00", Format.InZone(at, CronSchedule.FindZoneOrUtc("Europe/Berlin")));
        Assert.Equal("Thu 2026-12-03 01:30:00", Format.InZone(at, CronSchedule.FindZoneOrUtc("Mars/Olympus")));
        Assert.Equal("Thu 2026-12-03 01:30:00", Format.InZone(at, CronSchedule.FindZoneOrUtc(null)));
    }
}
