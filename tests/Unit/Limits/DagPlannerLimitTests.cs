using System.Diagnostics;
using System.Text.Json;
using Taskdeck.Console.Dags;
using Taskdeck.Core;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Limits;

namespace Taskdeck.Unit.Limits;

/// <summary>The planner's limits are checked from the parameter counts, before anything is expanded.</summary>
public class DagPlannerLimitTests
{
    private static readonly DagChecks Checks = new(new CommandOptions { Enabled = true, Allow = ["/bin/echo"] }, h => h == "demo.noop");

    /// <summary>The issue's 889-byte bomb: 12 parameters of 10 values, one task using all of them (10¹² combinations).</summary>
    public static string TrillionTaskSpec(string tag = "bomb")
    {
        var names = Enumerable.Range(0, 12).Select(i => $"P{i}").ToList();
        var parameters = string.Join(",", names.Select(n => $"\"{n}\":[{string.Join(",", Enumerable.Range(0, 10).Select(v => $"\"{v}\""))}]"));
        var args = string.Join(",", names.Select(n => $"\"{{{{{n}}}}}\""));
        return """{"tag":"@0@","parameters":{@1@},"tasks":{"boom":{"job":{"command":["/bin/echo",@2@]}}}}""".Replace("@0@", tag).Replace("@1@", parameters).Replace("@2@", args);
    }

    /// <summary>Two templates of 2,000 instances each, one the parent of the other: 4,000,000 edges from a ~20 KB spec.</summary>
    public static string FourMillionEdgeSpec(string tag = "edges")
    {
        var values = string.Join(",", Enumerable.Range(0, 2000).Select(v => $"\"{v}\""));
        return """{"tag":"@0@","parameters":{"N":[@1@]},"tasks":{"a":{"job":{"command":["/bin/echo","{{N}}"]},"children":["b"]},"b":{"job":{"command":["/bin/echo","{{N}}"]}}}}""".Replace("@0@", tag).Replace("@1@", values);
    }

    private static DagPlan Plan(string json, DagChecks? checks = null)
    {
        var errors = new List<string>();
        using var document = JsonDocument.Parse(json);
        var spec = new DaggySpecReader().Read(document.RootElement, errors);
        return DagPlanner.Plan(spec.Tasks, spec.Parameters, checks ?? Checks, readErrors: errors);
    }

    [Fact]
    public void TrillionTaskSpec_IsRefusedFromTheCounts_InUnder100Ms_AndUnder50MB()
    {
        var json = TrillionTaskSpec();
        Plan(json); // JIT and the placeholder regex warmed, so the measurement is of the planner's work
        var fastest = TimeSpan.MaxValue;
        long fewestBytes = long.MaxValue;
        DagPlan? plan = null;
        // The least of three: a loaded machine can pause one call, never make the planner itself slower.
        for (var i = 0; i < 3; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            plan = Plan(json);
            clock.Stop();
            fewestBytes = Math.Min(fewestBytes, GC.GetAllocatedBytesForCurrentThread() - before);
            if (clock.Elapsed < fastest) fastest = clock.Elapsed;
        }

        Assert.False(plan!.Valid);
        Assert.Empty(plan.Tasks);
        Assert.Equal("Taskdeck:Dags:MaxTasks", plan.Limit);
        Assert.Contains("1,000,000,000,000 tasks", Assert.Single(plan.Errors));
        Assert.True(fastest < TimeSpan.FromMilliseconds(100), $"took {fastest.TotalMilliseconds:0.0} ms");
        Assert.True(fewestBytes < 50L * 1024 * 1024, $"allocated {fewestBytes / 1024.0 / 1024:0.0} MB");
    }

    [Fact]
    public void FourMillionEdgeSpec_IsRefusedBeforeAnEdgeIsMade()
    {
        var plan = Plan(FourMillionEdgeSpec());

        Assert.False(plan.Valid);
        Assert.Empty(plan.Edges);
        Assert.Equal("Taskdeck:Dags:MaxEdges", plan.Limit);
        Assert.Contains("4,000,000 edges", Assert.Single(plan.Errors));
    }

    [Fact]
    public void TheSameEdgesNamedFromBothSides_CountOnce()
    {
        var checks = Checks with { Limits = DagLimits.Default with { MaxEdges = 4 } };
        var plan = Plan("""{"parameters":{"N":["1","2"]},"tasks":{"a":{"job":{"command":["/bin/echo","{{N}}"]},"children":["b"]},"b":{"job":{"command":["/bin/echo","{{N}}"]},"parents":["a"]}}}""", checks);

        Assert.True(plan.Valid, string.Join("; ", plan.Errors));
        Assert.Equal(4, plan.Edges.Count);
    }

    [Fact]
    public void ExactlyAtTheTaskLimit_IsAccepted_OneMoreIsRefused()
    {
        var checks = Checks with { Limits = DagLimits.Default with { MaxTasks = 3, MaxNewTasks = 3 } };
        Assert.True(Plan("""{"parameters":{"N":["1","2"]},"tasks":{"a":{"job":{"command":["/bin/echo","{{N}}"]}},"b":{"job":{"task":"demo.noop"}}}}""", checks).Valid);
        var over = Plan("""{"parameters":{"N":["1","2","3"]},"tasks":{"a":{"job":{"command":["/bin/echo","{{N}}"]}},"b":{"job":{"task":"demo.noop"}}}}""", checks);
        Assert.Equal("Taskdeck:Dags:MaxTasks", over.Limit);
    }

    [Fact]
    public void GeneratedTasks_CountAgainstTheGeneratorLimit_AndTheRunsTotal()
    {
        var errors = new List<string>();
        using var output = JsonDocument.Parse("""{"x":{"job":{"task":"demo.noop"}},"y":{"job":{"task":"demo.noop"}}}""");
        var specs = new DaggySpecReader().ReadTasks(output.RootElement, errors);
        var generator = Checks with { Limits = DagLimits.Default with { MaxNewTasks = 1, NewTasksKey = "Taskdeck:Dags:MaxGeneratedTasks" } };
        Assert.Equal("Taskdeck:Dags:MaxGeneratedTasks", DagPlanner.Plan(specs, [], generator).Limit);

        var full = Checks with { Limits = DagLimits.Default with { MaxTasks = 3 } };
        Assert.Equal("Taskdeck:Dags:MaxTasks", DagPlanner.Plan(specs, [], full, new DagContext(["g", "h"], [])).Limit);
    }

    [Theory]
    [InlineData("""{"tasks":{"a":{"job":{"task":"demo.noop"},"maxRetries":2147483647}}}""", "Taskdeck:Limits:MaxRetries")]
    [InlineData("""{"tasks":{"a":{"job":{"task":"demo.noop"},"retryIntervalSeconds":2147483647}}}""", "Taskdeck:Limits:MaxRetryIntervalSeconds")]
    [InlineData("""{"tasks":{"a\u0000b":{"job":{"task":"demo.noop"}}}}""", "Taskdeck:Limits:MaxNameLength")]
    public void PerTaskLimits_AreNamed(string json, string limit)
    {
        var plan = Plan(json);
        Assert.False(plan.Valid);
        Assert.Equal(limit, plan.Limit);
        Assert.Contains(limit, plan.Errors[0]);
    }

    [Fact]
    public void A100000CharacterTaskName_IsRefused_WithoutEchoingItWhole()
    {
        var name = new string('n', 100_000);
        var plan = Plan("""{"tasks":{"@0@":{"job":{"task":"demo.noop"}}}}""".Replace("@0@", name));
        Assert.Equal("Taskdeck:Limits:MaxNameLength", plan.Limit);
        Assert.True(plan.Errors.Sum(e => e.Length) < 1000, "the refusal repeats the whole name");
    }

    [Fact]
    public void ANulInACommandArgument_IsRefused()
    {
        var plan = Plan("""{"tasks":{"a":{"job":{"command":["/bin/echo","x\u0000y"]}}}}""");
        Assert.False(plan.Valid);
        Assert.Contains("NUL", plan.Errors[0]);
    }

    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(0, 3, 0)]
    [InlineData(0, 4, 1)]
    [InlineData(0, 5, 2)]
    [InlineData(0, 10, 64)]
    [InlineData(0, 100, 3600)]
    [InlineData(30, 2, 30)]
    [InlineData(30, 6, 30)]
    [InlineData(30, 9, 32)]
    public void RetryBackoff_GrowsPastTheImmediateRetries_WhateverTheTaskAsked(int interval, int attempt, double seconds)
    {
        var execution = new Execution { TaskId = "t", Name = "n", RetryIntervalSeconds = interval };
        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryElection.Delay(execution, attempt, new RetryOptions()));
    }

    [Fact]
    public void LimitOptions_ThatWouldRefuseEverything_StopTheStart()
    {
        var options = new TaskdeckOptions();
        options.Dags.MaxTasks = 0;
        options.Limits.MaxPageSize = 1;
        var result = new ValidateLimitOptions().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("Taskdeck:Dags:MaxTasks", result.FailureMessage);
        Assert.Contains("Taskdeck:Limits:MaxPageSize", result.FailureMessage);
        Assert.True(new ValidateLimitOptions().Validate(null, new TaskdeckOptions()).Succeeded);
    }
}
