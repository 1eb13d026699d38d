using System.Net;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Api;

/// <summary>django-ray's metric families computed by PostgreSQL, on a real Console process (test_prometheus_metrics).</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlMetricsTests(PostgresServer postgres)
{
    [Fact]
    public async Task Metrics_OnPostgreSql_CarryDjangoRaysFamilies_AndAScrapeIsPromtoolClean()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var node = await ConsoleProcess.StartAsync(new Dictionary<string, string>
        {
            ["Taskdeck:Storage:Provider"] = "PostgreSql",
            ["ConnectionStrings:Taskdeck"] = connection,
        });
        var later = DateTimeOffset.UtcNow.AddHours(1);
        foreach (var queue in new[] { "default", "default", "high-priority" })
            await node.SubmitAsync(new { task = "demo.noop", queue, runAt = later });
        await node.SubmitAsync(new { task = "demo.sleep", args = new { seconds = 60 } });

        // Scrape until the sleeper runs (it is claimed through Hangfire.PostgreSql's queue polling).
        var until = DateTime.UtcNow.AddSeconds(30);
        string scrape;
        string contentType;
        while (true)
        {
            using var response = await node.Http.GetAsync("/api/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            scrape = await response.Content.ReadAsStringAsync();
            contentType = response.Content.Headers.ContentType!.ToString();
            if (scrape.Contains("django_ray_tasks_running 1\n") || DateTime.UtcNow > until) break;
            await Task.Delay(200);
        }
        // A database of its own: here the counts are exact.
        Assert.Contains("django_ray_tasks_total{state=\"QUEUED\"} 3\n", scrape);
        Assert.Contains("django_ray_tasks_queued 3\n", scrape);
        await DjangoRayMetricsAssertions.AssertAsync(contentType, scrape, new Dictionary<string, int> { ["default"] = 2, ["high-priority"] = 1 }, somethingRuns: true);
    }
}
