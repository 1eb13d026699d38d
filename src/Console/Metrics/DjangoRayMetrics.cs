using System.Globalization;
using System.Text;
using Taskdeck.Console.Executions;
using Taskdeck.Core.Executions;
using Taskdeck.Data.WorkTasks;

namespace Taskdeck.Console.Metrics;

/// <summary>
/// django-ray's own metric families, with the names, labels and meaning of its testproject's <c>/api/metrics</c>, so that
/// a Grafana board built on django-ray keeps working: <c>django_ray_tasks_total{state}</c> (executions now in each state,
/// every state listed), <c>django_ray_tasks_queued</c>, <c>django_ray_tasks_running</c> and
/// <c>django_ray_queue_depth{queue}</c> (queued executions per queue that has any). States are django-ray's words.
/// </summary>
/// <remarks>
/// Written by hand rather than through prometheus-net: <c>django_ray_tasks_total</c> is a current count (it goes down), and
/// the exposition lint refuses a gauge whose name ends in <c>_total</c>. Declaring it <c>untyped</c>, which prometheus-net
/// cannot, keeps the name a board queries and a clean <c>promtool check metrics</c>.
/// </remarks>
public static class DjangoRayMetrics
{
    /// <summary>django-ray's states, in its model's order (EXPIRED is the newer API's addition).</summary>
    public static readonly IReadOnlyList<string> States = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "CANCELLING", "LOST", "EXPIRED"];

    public static string Render(IReadOnlyList<QueueStateCount> counts)
    {
        var byState = counts.GroupBy(c => DjangoRay.State(c.State)).ToDictionary(g => g.Key, g => g.Sum(c => c.Count));
        int Count(string state) => byState.GetValueOrDefault(state);
        var text = new StringBuilder();
        text.Append("# HELP django_ray_tasks_total Total tasks by state\n# TYPE django_ray_tasks_total untyped\n");
        foreach (var state in States) Line(text, "django_ray_tasks_total", ("state", state), Count(state));
        text.Append("# HELP django_ray_tasks_queued Current queued tasks\n# TYPE django_ray_tasks_queued gauge\n");
        Line(text, "django_ray_tasks_queued", null, Count("QUEUED"));
        text.Append("# HELP django_ray_tasks_running Current running tasks\n# TYPE django_ray_tasks_running gauge\n");
        Line(text, "django_ray_tasks_running", null, Count("RUNNING"));
        var depths = counts.Where(c => c.State.IsWaiting()).GroupBy(c => c.Queue, StringComparer.Ordinal)
            .Select(g => (Queue: g.Key, Depth: g.Sum(c => c.Count))).Where(q => q.Depth > 0).OrderBy(q => q.Queue, StringComparer.Ordinal).ToList();
        if (depths.Count > 0)
        {
            // As the testproject: the family appears once some queue has queued work.
            text.Append("# HELP django_ray_queue_depth Tasks queued per queue\n# TYPE django_ray_queue_depth gauge\n");
            foreach (var (queue, depth) in depths) Line(text, "django_ray_queue_depth", ("queue", queue), depth);
        }
        return text.ToString();
    }

    private static void Line(StringBuilder text, string name, (string Name, string Value)? label, int value)
    {
        text.Append(name);
        if (label is { } l) text.Append('{').Append(l.Name).Append("=\"").Append(Escape(l.Value)).Append("\"}");
        text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>The exposition format's label escapes: backslash, double quote and line feed.</summary>
    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
