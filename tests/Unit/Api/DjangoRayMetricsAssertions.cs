using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.WorkTasks;

namespace Taskdeck.Unit.Api;

/// <summary>
/// What django-ray's testproject test <c>TestHealthAPI.test_prometheus_metrics</c> (tests/integration/test_api.py) asserts of
/// its <c>/api/metrics</c>, on a scrape of ours: the four families, state labels, and a depth per queue with queued work —
/// plus that the whole scrape is valid exposition text (our strict parser and promtool's lint).
/// </summary>
public static class DjangoRayMetricsAssertions
{
    public static async Task AssertAsync(string contentType, string scrape, IReadOnlyDictionary<string, int> ownQueueDepths, bool somethingRuns)
    {
        Assert.StartsWith("text/plain", contentType);
        var families = PrometheusText.Parse(scrape);
        Assert.Contains(families.Keys, k => k.StartsWith("taskdeck_", StringComparison.Ordinal));

        var total = families["django_ray_tasks_total"];
        var byState = total.Samples.ToDictionary(s => s.Labels["state"], s => s.Value);
        Assert.Equal(["CANCELLED", "CANCELLING", "EXPIRED", "FAILED", "LOST", "QUEUED", "RUNNING", "SUCCEEDED"], byState.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("gauge", families["django_ray_tasks_queued"].Type);
        Assert.Equal("gauge", families["django_ray_tasks_running"].Type);
        var queued = Assert.Single(families["django_ray_tasks_queued"].Samples).Value;
        var running = Assert.Single(families["django_ray_tasks_running"].Samples).Value;
        // One scrape is one snapshot: the totals and the single gauges agree.
        Assert.Equal(byState["QUEUED"], queued);
        Assert.Equal(byState["RUNNING"], running);
        Assert.True(queued >= ownQueueDepths.Values.Sum(), $"queued {queued} < the {ownQueueDepths.Values.Sum()} this test queued");
        if (somethingRuns) Assert.True(running >= 1, "nothing RUNNING in the scrape although this test holds one running");

        var depths = families["django_ray_queue_depth"].Samples.ToDictionary(s => s.Labels["queue"], s => s.Value);
        foreach (var (queue, depth) in ownQueueDepths) Assert.Equal(depth, depths[queue]);
        Assert.Equal(queued, depths.Values.Sum());

        var (exit, output) = await Promtool.CheckMetricsAsync(scrape);
        Assert.True(exit == 0 && output.Length == 0, $"promtool check metrics: exit {exit}\n{output}\n--- scrape ---\n{scrape}");
    }
}
