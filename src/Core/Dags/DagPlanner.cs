using System.Text;
using System.Text.RegularExpressions;
using Taskdeck.Core.Limits;

namespace Taskdeck.Core.Dags;

/// <summary>One concrete task of a run, after parameter expansion.</summary>
public sealed record PlannedTask
{
    public required string Name { get; init; }
    /// <summary>The spec entry it came from (equal to <see cref="Name"/> for a task that is not a template).</summary>
    public required string Template { get; init; }
    public required DagJob Job { get; init; }
    public int MaxRetries { get; init; }
    public int RetryIntervalSeconds { get; init; }
    public bool IsGenerator { get; init; }
}

/// <summary>The expanded, validated tasks and their parent → child edges (by task name), or the problems found.</summary>
public sealed record DagPlan(IReadOnlyList<PlannedTask> Tasks, IReadOnlyList<(string Parent, string Child)> Edges, IReadOnlyList<string> Errors)
{
    public bool Valid => Errors.Count == 0;
    /// <summary>The configuration key of the limit the spec broke (<c>Taskdeck:Dags:MaxTasks</c>), when one did.</summary>
    public string? Limit { get; init; }
}

/// <summary>
/// How big a plan may be. <paramref name="MaxNewTasks"/> bounds what this plan adds (a generator's output),
/// <paramref name="MaxTasks"/> the run's total with the tasks already in it.
/// </summary>
public sealed record DagLimits(int MaxTasks, int MaxNewTasks, int MaxEdges, LimitOptions Inputs, string NewTasksKey = "Taskdeck:Dags:MaxTasks")
{
    public static DagLimits From(TaskdeckOptions options) =>
        new(options.Dags.MaxTasks, options.Dags.MaxTasks, options.Dags.MaxEdges, options.Limits);

    public static readonly DagLimits Default = From(new TaskdeckOptions());
}

/// <summary>What validation checks against: the command allow-list, the registered handlers and the limits.</summary>
public sealed record DagChecks(CommandOptions Commands, Func<string, bool> HandlerExists)
{
    public DagLimits Limits { get; init; } = DagLimits.Default;
    /// <summary>Where <c>{{secret:NAME}}</c> references must find their values (none: every reference is unknown).</summary>
    public Secrets.SecretOptions Secrets { get; init; } = new();
}

/// <summary>Tasks already in a run, for tasks a generator adds: they may name these as parents or children.</summary>
public sealed record DagContext(IReadOnlyCollection<string> ExistingNames, IReadOnlyList<(string Parent, string Child)> ExistingEdges)
{
    public static readonly DagContext Empty = new([], []);
}

/// <summary>
/// Parameter expansion and validation. A task whose command or environment uses <c>{{NAME}}</c> becomes one task per
/// combination of the values of the parameters it uses (in the order the parameters are declared, the last varying
/// fastest), named <c>name_0</c>, <c>name_1</c>, …; edges to or from a template apply to every instance.
/// </summary>
public static partial class DagPlanner
{
    [GeneratedRegex(@"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")]
    private static partial Regex Placeholder();

    public static DagPlan Plan(IReadOnlyList<DagTaskSpec> specs, IReadOnlyList<DagParameter> parameters, DagChecks checks,
        DagContext? context = null, IReadOnlyList<string>? readErrors = null)
    {
        context ??= DagContext.Empty;
        var errors = new List<string>(readErrors ?? []);
        var byName = parameters.GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.Last());
        var order = parameters.Select((p, i) => (p.Name, i)).GroupBy(x => x.Name).ToDictionary(g => g.Key, g => g.Last().i);
        foreach (var empty in parameters.Where(p => p.Values.Count == 0)) errors.Add($"parameter '{empty.Name}' has no values.");
        if (CheckSize(specs, byName, checks.Limits, context) is { } tooBig)
            return new DagPlan([], [], [.. errors, tooBig.Message]) { Limit = tooBig.Limit };

        string? limit = null;
        var tasks = new List<PlannedTask>();
        var instances = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var seen = new HashSet<string>(context.ExistingNames, StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            if (instances.ContainsKey(spec.Name))
            {
                errors.Add($"task '{spec.Name}' is defined twice.");
                continue;
            }
            // A template's instances get "_<index>" appended: leave room for it.
            var room = checks.Limits.Inputs.MaxNameLength - (UsedParameters(spec.Job).Any() ? 7 : 0);
            if (TextRules.NameProblem(spec.Name, room, $"task name '{Shorten(spec.Name)}'") is { } nameProblem)
            {
                errors.Add($"{nameProblem} ({LimitOptions.Key(nameof(LimitOptions.MaxNameLength))})");
                limit ??= LimitOptions.Key(nameof(LimitOptions.MaxNameLength));
                continue;
            }
            var used = UsedParameters(spec.Job).ToList();
            var undefined = used.Where(u => !byName.ContainsKey(u)).ToList();
            foreach (var name in undefined)
                errors.Add($"task '{spec.Name}' uses {{{{{name}}}}}, which is not a defined parameter.");
            var names = new List<string>();
            instances[spec.Name] = names;
            if (undefined.Count > 0) continue;

            var ordered = used.OrderBy(u => order[u]).Select(u => byName[u]).ToList();
            var index = 0;
            foreach (var combination in Combinations(ordered))
            {
                var name = ordered.Count == 0 ? spec.Name : $"{spec.Name}_{index}";
                index++;
                if (!seen.Add(name))
                {
                    errors.Add($"task name '{name}' is used twice.");
                    continue;
                }
                names.Add(name);
                tasks.Add(new PlannedTask
                {
                    Name = name,
                    Template = spec.Name,
                    Job = spec.Job with
                    {
                        Command = spec.Job.Command.Select(a => Substitute(a, combination)).ToList(),
                        Environment = spec.Job.Environment.Select(e => Substitute(e, combination)).ToList(),
                    },
                    MaxRetries = spec.MaxRetries,
                    RetryIntervalSeconds = spec.RetryIntervalSeconds,
                    IsGenerator = spec.IsGenerator,
                });
            }
        }

        var edges = new List<(string, string)>();
        var edgeSet = new HashSet<(string, string)>();
        foreach (var spec in specs)
        {
            if (!instances.TryGetValue(spec.Name, out var mine)) continue;
            foreach (var parent in spec.Parents)
                foreach (var p in Resolve(spec.Name, parent, "parent", instances, context, errors))
                    foreach (var c in mine)
                        if (edgeSet.Add((p, c))) edges.Add((p, c));
            foreach (var child in spec.Children)
                foreach (var c in Resolve(spec.Name, child, "child", instances, context, errors))
                    foreach (var p in mine)
                        if (edgeSet.Add((p, c))) edges.Add((p, c));
        }

        foreach (var task in tasks) CheckJob(task, checks, errors, ref limit);
        errors.AddRange(FindCycles(tasks.Select(t => t.Name).Concat(context.ExistingNames), edges.Concat(context.ExistingEdges)));
        return new DagPlan(tasks, edges, errors) { Limit = limit };
    }

    /// <summary>
    /// Counts the tasks and edges the spec would expand to from the parameters' value counts alone, before anything is
    /// expanded: the count is a product, so a tiny spec can ask for 10¹² tasks. Saturates instead of overflowing.
    /// </summary>
    private static (string Message, string Limit)? CheckSize(IReadOnlyList<DagTaskSpec> specs, Dictionary<string, DagParameter> parameters,
        DagLimits limits, DagContext context)
    {
        var instances = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        foreach (var spec in specs)
        {
            long count = 1;
            foreach (var name in UsedParameters(spec.Job))
                if (parameters.TryGetValue(name, out var parameter)) count = Multiply(count, parameter.Values.Count);
            instances.TryAdd(spec.Name, count);
            total = Add(total, count);
        }
        if (total > limits.MaxNewTasks)
            return ($"the DAG expands to {Describe(total)} tasks; at most {limits.MaxNewTasks:N0} are allowed ({limits.NewTasksKey}).", limits.NewTasksKey);
        if (Add(total, context.ExistingNames.Count) > limits.MaxTasks)
            return ($"the run would hold {Describe(Add(total, context.ExistingNames.Count))} tasks; at most {limits.MaxTasks:N0} are allowed (Taskdeck:Dags:MaxTasks).", "Taskdeck:Dags:MaxTasks");

        // Edges between two templates connect every instance of one to every instance of the other: one product per
        // distinct pair of spec entries (a pair named from both sides is the same edges, counted once).
        long Instances(string name) => instances.TryGetValue(name, out var n) ? n : context.ExistingNames.Contains(name) ? 1 : 0;
        var pairs = new HashSet<(string, string)>();
        foreach (var spec in specs)
        {
            foreach (var parent in spec.Parents) pairs.Add((parent, spec.Name));
            foreach (var child in spec.Children) pairs.Add((spec.Name, child));
        }
        long edges = context.ExistingEdges.Count;
        foreach (var (parent, child) in pairs) edges = Add(edges, Multiply(Instances(parent), Instances(child)));
        if (edges > limits.MaxEdges)
            return ($"the DAG expands to {Describe(edges)} edges; at most {limits.MaxEdges:N0} are allowed (Taskdeck:Dags:MaxEdges).", "Taskdeck:Dags:MaxEdges");
        return null;
    }

    private static long Multiply(long a, long b) => a == 0 || b == 0 ? 0 : a > long.MaxValue / b ? long.MaxValue : a * b;
    private static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
    private static string Describe(long n) => n == long.MaxValue ? "more than 9.2×10¹⁸" : n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
    private static string Shorten(string name) => name.Length <= 40 ? name : name[..40] + "…";

    /// <summary>The parameter names a job uses, each once, in order of first use.</summary>
    public static IEnumerable<string> UsedParameters(DagJob job) =>
        job.Command.Concat(job.Environment).SelectMany(s => Placeholder().Matches(s).Select(m => m.Groups[1].Value)).Distinct(StringComparer.Ordinal);

    private static string Substitute(string text, IReadOnlyDictionary<string, string> values) =>
        values.Count == 0 ? text : Placeholder().Replace(text, m => values.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);

    private static IEnumerable<IReadOnlyDictionary<string, string>> Combinations(IReadOnlyList<DagParameter> parameters)
    {
        if (parameters.Any(p => p.Values.Count == 0)) yield break;
        var positions = new int[parameters.Count];
        while (true)
        {
            var combination = new Dictionary<string, string>(parameters.Count, StringComparer.Ordinal);
            for (var i = 0; i < parameters.Count; i++) combination[parameters[i].Name] = parameters[i].Values[positions[i]];
            yield return combination;
            var k = parameters.Count - 1;
            while (k >= 0 && ++positions[k] == parameters[k].Values.Count) positions[k--] = 0;
            if (k < 0) yield break;
        }
    }

    private static IEnumerable<string> Resolve(string task, string reference, string role, Dictionary<string, List<string>> instances,
        DagContext context, List<string> errors)
    {
        if (instances.TryGetValue(reference, out var names)) return names;
        if (context.ExistingNames.Contains(reference)) return [reference];
        errors.Add($"task '{task}' names unknown {role} '{reference}'.");
        return [];
    }

    private static void CheckJob(PlannedTask task, DagChecks checks, List<string> errors, ref string? limit)
    {
        var job = task.Job;
        var hasHandler = !string.IsNullOrWhiteSpace(job.Handler);
        if (hasHandler && job.Command.Count > 0)
            errors.Add($"task '{task.Name}': give either job.command or job.task, not both.");
        else if (hasHandler)
        {
            if (!checks.HandlerExists(job.Handler!)) errors.Add($"task '{task.Name}': no handler named '{job.Handler}' is registered.");
        }
        else if (job.Command.Count == 0 || string.IsNullOrWhiteSpace(job.Command[0]))
            errors.Add($"task '{task.Name}': the command is empty.");
        else if (Executors.CommandDoor.CheckExecutable(checks.Commands, job.Command[0], out _) is { } refused)
            errors.Add($"task '{task.Name}': {refused}");
        foreach (var pair in job.Environment)
        {
            if (pair.IndexOf('=') <= 0) errors.Add($"task '{task.Name}': environment entry '{pair}' is not of the form NAME=value.");
            else if (Executors.CommandDoor.CheckEnvironment(checks.Commands, [pair]) is { } denied) errors.Add($"task '{task.Name}': environment: {denied.Error}");
        }
        if (Secrets.SecretText.FirstUnknown(checks.Secrets, job.Command.Concat(job.Environment)) is { } unknownSecret)
            errors.Add($"task '{task.Name}': {Executions.ExecutionService.UnknownSecret(unknownSecret)}");
        var limits = checks.Limits.Inputs;
        var over = new List<(string Message, string Setting)>();
        if (task.MaxRetries > limits.MaxRetries)
            over.Add(($"maxRetries is {task.MaxRetries}; at most {limits.MaxRetries} are allowed", nameof(limits.MaxRetries)));
        if (task.RetryIntervalSeconds > limits.MaxRetryIntervalSeconds)
            over.Add(($"retryIntervalSeconds is {task.RetryIntervalSeconds}; at most {limits.MaxRetryIntervalSeconds} is allowed", nameof(limits.MaxRetryIntervalSeconds)));
        if (job.Command.Any(TextRules.HasNul) || job.Environment.Any(TextRules.HasNul))
            errors.Add($"task '{task.Name}': a command argument or environment entry holds a NUL character.");
        if (hasHandler && TextRules.NameProblem(job.Handler!, limits.MaxNameLength, "job.task") is { } handlerProblem)
            over.Add((handlerProblem.TrimEnd('.'), nameof(limits.MaxNameLength)));
        long size = job.ArgsJson?.Length ?? 0;
        foreach (var part in job.Command) size += part.Length;
        foreach (var part in job.Environment) size += part.Length;
        if (size > limits.MaxSpecBytes)
            over.Add(($"its command, environment and args hold {size} characters; at most {limits.MaxSpecBytes} are allowed", nameof(limits.MaxSpecBytes)));
        foreach (var (message, setting) in over)
        {
            errors.Add($"task '{task.Name}': {message} ({LimitOptions.Key(setting)}).");
            limit ??= LimitOptions.Key(setting);
        }
    }

    /// <summary>One message per strongly connected component that holds a cycle, naming the tasks around it.</summary>
    public static IEnumerable<string> FindCycles(IEnumerable<string> nodes, IEnumerable<(string Parent, string Child)> edges)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (var n in nodes)
            if (index.TryAdd(n, names.Count)) names.Add(n);
        var next = names.Select(_ => new List<int>()).ToList();
        foreach (var (p, c) in edges)
            if (index.TryGetValue(p, out var pi) && index.TryGetValue(c, out var ci)) next[pi].Add(ci);

        var messages = new List<string>();
        foreach (var component in StronglyConnected(next))
        {
            if (component.Count == 1 && !next[component[0]].Contains(component[0])) continue;
            var cycle = CycleWithin(component, next);
            var text = new StringBuilder("cycle: ");
            text.AppendJoin(" → ", cycle.Select(i => names[i])).Append(" → ").Append(names[cycle[0]]);
            messages.Add(text.ToString());
        }
        return messages;
    }

    /// <summary>Tarjan's algorithm, iterative so a 10,000-task chain does not overflow the stack.</summary>
    private static List<List<int>> StronglyConnected(List<List<int>> next)
    {
        var n = next.Count;
        var order = new int[n];
        var low = new int[n];
        var onStack = new bool[n];
        Array.Fill(order, -1);
        var stack = new Stack<int>();
        var result = new List<List<int>>();
        var counter = 0;
        var work = new Stack<(int Node, int Edge)>();
        for (var root = 0; root < n; root++)
        {
            if (order[root] >= 0) continue;
            work.Push((root, 0));
            while (work.Count > 0)
            {
                var (v, e) = work.Pop();
                if (e == 0)
                {
                    order[v] = low[v] = counter++;
                    stack.Push(v);
                    onStack[v] = true;
                }
                if (e < next[v].Count)
                {
                    work.Push((v, e + 1));
                    var w = next[v][e];
                    if (order[w] < 0) work.Push((w, 0));
                    else if (onStack[w]) low[v] = Math.Min(low[v], order[w]);
                    continue;
                }
                if (low[v] == order[v])
                {
                    var component = new List<int>();
                    int w;
                    do { w = stack.Pop(); onStack[w] = false; component.Add(w); } while (w != v);
                    result.Add(component);
                }
                if (work.Count > 0)
                {
                    var parent = work.Peek().Node;
                    low[parent] = Math.Min(low[parent], low[v]);
                }
            }
        }
        return result;
    }

    /// <summary>A shortest cycle through the component's first node, by breadth-first search inside the component.</summary>
    private static List<int> CycleWithin(List<int> component, List<List<int>> next)
    {
        var members = component.ToHashSet();
        var start = component.Min();
        var previous = new Dictionary<int, int>();
        var queue = new Queue<int>();
        queue.Enqueue(start);
        while (queue.Count > 0)
        {
            var v = queue.Dequeue();
            foreach (var w in next[v])
            {
                if (!members.Contains(w)) continue;
                if (w == start)
                {
                    var path = new List<int> { v };
                    while (path[^1] != start) path.Add(previous[path[^1]]);
                    path.Reverse();
                    return path;
                }
                if (previous.TryAdd(w, v)) queue.Enqueue(w);
            }
        }
        return [start];
    }
}
