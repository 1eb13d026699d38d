using System.Globalization;
using System.Text.Json;
using Taskdeck.Core.Dags;

namespace Taskdeck.Console.Dags;

/// <summary>
/// daggy's JSON spec (seed 002) read into Core's <see cref="DagSpec"/>: <c>tasks</c> is an object of task name → task,
/// <c>job.cores</c> and <c>job.memoryMB</c> may be strings, <c>parameters</c> maps a name to its values.
/// </summary>
public sealed class DaggySpecReader : IDagSpecReader
{
    public DagSpec Read(JsonElement root, List<string> errors)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            errors.Add("The DAG must be a JSON object with \"tasks\".");
            return new DagSpec("", [], []);
        }
        var tag = "";
        if (root.TryGetProperty("tag", out var t))
        {
            if (t.ValueKind == JsonValueKind.String) tag = t.GetString()!;
            else if (t.ValueKind != JsonValueKind.Null) errors.Add("\"tag\" must be a string.");
        }
        var parameters = root.TryGetProperty("parameters", out var p) ? ReadParameters(p, errors) : [];
        IReadOnlyList<DagTaskSpec> tasks = [];
        if (!root.TryGetProperty("tasks", out var tasksJson)) errors.Add("\"tasks\" is required.");
        else tasks = ReadTasks(tasksJson, errors);
        return new DagSpec(tag, parameters, tasks);
    }

    public IReadOnlyList<DagParameter> ReadParameters(JsonElement json, List<string> errors)
    {
        if (json.ValueKind == JsonValueKind.Null) return [];
        if (json.ValueKind != JsonValueKind.Object)
        {
            errors.Add("\"parameters\" must be an object of name → list of values.");
            return [];
        }
        var result = new List<DagParameter>();
        foreach (var property in json.EnumerateObject())
        {
            var values = new List<string>();
            if (property.Value.ValueKind == JsonValueKind.Array)
            {
                foreach (var v in property.Value.EnumerateArray())
                    if (Scalar(v) is { } s) values.Add(s);
                    else errors.Add($"parameter '{property.Name}': values must be strings or numbers.");
            }
            else if (Scalar(property.Value) is { } single) values.Add(single);
            else errors.Add($"parameter '{property.Name}': must be a list of strings.");
            result.Add(new DagParameter(property.Name, values));
        }
        return result;
    }

    /// <summary>An object of task name → task, as in a spec's <c>tasks</c> and in a generator's output.</summary>
    public IReadOnlyList<DagTaskSpec> ReadTasks(JsonElement json, List<string> errors)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            errors.Add("\"tasks\" must be an object of task name → task.");
            return [];
        }
        var tasks = new List<DagTaskSpec>();
        foreach (var property in json.EnumerateObject())
            if (ReadTask(property.Name, property.Value, errors) is { } task) tasks.Add(task);
        return tasks;
    }

    private static DagTaskSpec? ReadTask(string name, JsonElement json, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            errors.Add("A task has an empty name.");
            return null;
        }
        if (json.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"task '{name}': must be an object with \"job\".");
            return null;
        }
        var job = new DagJob();
        if (!json.TryGetProperty("job", out var jobJson) || jobJson.ValueKind != JsonValueKind.Object)
            errors.Add($"task '{name}': \"job\" is required (an object with \"command\", or \"task\" naming a handler).");
        else
            job = ReadJob(name, jobJson, errors);
        return new DagTaskSpec
        {
            Name = name,
            Job = job,
            Parents = Strings(name, json, "parents", errors),
            Children = Strings(name, json, "children", errors),
            MaxRetries = WholeNumber(name, json, "maxRetries", errors),
            RetryIntervalSeconds = WholeNumber(name, json, "retryIntervalSeconds", errors),
            IsGenerator = Flag(name, json, "isGenerator", errors),
        };
    }

    private static DagJob ReadJob(string task, JsonElement json, List<string> errors)
    {
        string? handler = null;
        if (json.TryGetProperty("task", out var h) && h.ValueKind != JsonValueKind.Null)
        {
            if (h.ValueKind == JsonValueKind.String) handler = h.GetString();
            else errors.Add($"task '{task}': job.task must be the name of a handler.");
        }
        string? args = null;
        if (json.TryGetProperty("args", out var a) && a.ValueKind != JsonValueKind.Null)
        {
            if (a.ValueKind == JsonValueKind.Object) args = a.GetRawText();
            else errors.Add($"task '{task}': job.args must be a JSON object.");
        }
        double cores = 0;
        if (json.TryGetProperty("cores", out var c) && c.ValueKind != JsonValueKind.Null)
        {
            if (Scalar(c) is not { } text || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out cores) || cores < 0 || !double.IsFinite(cores))
                errors.Add($"task '{task}': job.cores must be a number ≥ 0 (got {c.GetRawText()}).");
        }
        long memory = 0;
        if (json.TryGetProperty("memoryMB", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (Scalar(m) is not { } text || !long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out memory) || memory < 0)
                errors.Add($"task '{task}': job.memoryMB must be a whole number ≥ 0 (got {m.GetRawText()}).");
        }
        return new DagJob
        {
            Command = Strings(task, json, "command", errors, "job."),
            Environment = Strings(task, json, "environment", errors, "job."),
            Cores = cores,
            MemoryMB = memory,
            Handler = handler,
            ArgsJson = args,
        };
    }

    private static IReadOnlyList<string> Strings(string task, JsonElement json, string field, List<string> errors, string prefix = "")
    {
        if (!json.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return [];
        if (value.ValueKind != JsonValueKind.Array)
        {
            errors.Add($"task '{task}': {prefix}{field} must be a list of strings.");
            return [];
        }
        var list = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String) list.Add(item.GetString()!);
            else errors.Add($"task '{task}': {prefix}{field} must be a list of strings (found {item.GetRawText()}).");
        }
        return list;
    }

    private static int WholeNumber(string task, JsonElement json, string field, List<string> errors)
    {
        if (!json.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return 0;
        if (Scalar(value) is { } text && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0) return n;
        errors.Add($"task '{task}': {field} must be a whole number ≥ 0 (got {value.GetRawText()}).");
        return 0;
    }

    private static bool Flag(string task, JsonElement json, string field, List<string> errors)
    {
        if (!json.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return false;
        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False) return value.GetBoolean();
        errors.Add($"task '{task}': {field} must be true or false.");
        return false;
    }

    private static string? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        _ => null,
    };
}
