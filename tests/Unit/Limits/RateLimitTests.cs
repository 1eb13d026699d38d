using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Health;

namespace Taskdeck.Unit.Limits;

/// <summary>ASP.NET Core's rate limiter on submit and bulk routes, with a low configured limit: 429, Retry-After, a ProblemDetails, nothing stored.</summary>
[Collection(OwnHostCollection.Name)]
public sealed class RateLimitTests
{
    [Fact]
    public async Task OverTheSubmitLimit_IsA429ProblemWithRetryAfter_AndTheRefusedRequestStoresNothing()
    {
        await using var own = new OwnHost();
        await using var app = own.WithWebHostBuilder(b =>
        {
            b.UseSetting("Taskdeck:RateLimits:Submit:Burst", "3");
            b.UseSetting("Taskdeck:RateLimits:Submit:PerSecond", "1");
        });
        var http = app.CreateClient();

        // One token a second comes back: keep asking (each request its own queue name) until one is refused.
        HttpResponseMessage? refused = null;
        string? refusedQueue = null;
        var accepted = new List<string>();
        for (var i = 0; i < 200 && refused is null; i++)
        {
            var queue = $"rl{i}-{Guid.NewGuid():N}"[..20];
            var response = await http.PostAsJsonAsync("/api/tasks", new { task = "demo.noop", queue });
            if (response.StatusCode == HttpStatusCode.TooManyRequests) (refused, refusedQueue) = (response, queue);
            else
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                accepted.Add(queue);
            }
        }

        Assert.NotNull(refused);
        Assert.True(accepted.Count >= 3, $"the first {3} requests (the burst) are accepted; {accepted.Count} were");
        Assert.True(refused!.Headers.TryGetValues("Retry-After", out var after), "a 429 says when to come back");
        Assert.True(int.Parse(after!.Single()) >= 1);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        Assert.Equal("Taskdeck:RateLimits:Submit", problem.GetProperty("limit").GetString());

        await using var db = await app.Services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        Assert.False(await db.Executions.AnyAsync(e => e.Queue == refusedQueue), "the refused request stored nothing");
        Assert.Equal(accepted.Count, await db.Executions.CountAsync(e => accepted.Contains(e.Queue)));
        Assert.False(await db.AuditEntries.AnyAsync(a => a.Reason != null && a.Reason.Contains(refusedQueue!)));
    }

    [Fact]
    public async Task BulkRoutes_HaveTheirOwnLimit()
    {
        await using var own = new OwnHost();
        await using var app = own.WithWebHostBuilder(b =>
        {
            b.UseSetting("Taskdeck:RateLimits:Bulk:Burst", "1");
            b.UseSetting("Taskdeck:RateLimits:Bulk:PerSecond", "1");
        });
        var http = app.CreateClient();

        HttpResponseMessage? refused = null;
        for (var i = 0; i < 200 && refused is null; i++)
        {
            var response = await http.PostAsJsonAsync("/api/executions/reset", new { state = "FAILED" });
            if (response.StatusCode == HttpStatusCode.TooManyRequests) refused = response;
            else Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.NotNull(refused);
        Assert.True(refused!.Headers.Contains("Retry-After"));
        Assert.Equal("Taskdeck:RateLimits:Bulk", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("limit").GetString());
        // Submits are limited apart: the bulk limit being spent does not refuse a submit.
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsJsonAsync("/api/tasks", new { task = "demo.noop" })).StatusCode);
    }
}
