using System.Text.Json;
using Taskdeck.Console.Dags;
using Taskdeck.Core;
using Taskdeck.Core.Dags;

namespace Taskdeck.Unit.Dags;

public class DagPlannerTests
{
    private static readonly DagChecks Checks = new(new CommandOptions { Enabled = true, Allow = ["/bin/echo", "/bin/true"] }, h => h == "demo.noop");

    private static DagPlan Plan(string json)
    {
        var errors = new List<string>();
        using var document = JsonDocument.Parse(json);
        var spec = new DaggySpecReader().Read(document.RootElement, errors);
        return DagPlanner.Plan(spec.Tasks, spec.Parameters, Checks, readErrors: errors);
    }

    [Fact]
    public void Template_ExpandsToOneTaskPerValue_NamedInValueOrder()
    {
        var plan = Plan("""{"tag":"t","parameters":{"JOBNO":["1","2"]},"tasks":{"simple":{"job":{"command":["/bin/echo","script.py","{{JOBNO}}"],"cores":"1","memoryMB":"100"}}}}""");

        Assert.True(plan.Valid, string.Join("; ", plan.Errors));
        Assert.Equal(["simple_0", "simple_1"], plan.Tasks.Select(t => t.Name));
        Assert.Equal(["/bin/echo", "script.py", "1"], plan.Tasks[0].Job.Command);
        Assert.Equal(["/bin/echo", "script.py", "2"], plan.Tasks[1].Job.Command);
        Assert.Equal(1, plan.Tasks[0].Job.Cores);
        Assert.Equal(100, plan.Tasks[0].Job.MemoryMB);
    }

    [Fact]
    public void Template_UsingTwoParameters_IsTheCartesianProduct_LastParameterFastest()
    {
        var plan = Plan("""
            {"parameters":{"A":["a1","a2"],"B":["b1","b2","b3"],"UNUSED":["x","y"]},
             "tasks":{"t":{"job":{"command":["/bin/echo","{{B}}"],"environment":["X={{A}}"]}}}}
            """);

        Assert.True(plan.Valid, string.Join("; ", plan.Errors));
        Assert.Equal(6, plan.Tasks.Count);
        Assert.Equal(["t_0", "t_1", "t_2", "t_3", "t_4", "t_5"], plan.Tasks.Select(t => t.Name));
        Assert.Equal(["X=a1", "X=a1", "X=a1", "X=a2", "X=a2", "X=a2"], plan.Tasks.Select(t => t.Job.Environment[0]));
        Assert.Equal(["b1", "b2", "b3", "b1", "b2", "b3"], plan.Tasks.Select(t => t.Job.Command[1]));
    }

    [Fact]
    public void EdgesToAndFromATemplate_ApplyToEveryInstance()
    {
        var plan = Plan("""
            {"parameters":{"N":["1","2","3"]},
             "tasks":{"start":{"job":{"command":["/bin/echo"]},"children":["work"]},
                      "work":{"job":{"command":["/bin/echo","{{N}}"]}},
                      "join":{"job":{"command":["/bin/echo"]},"parents":["work"]}}}
            """);

        Assert.True(plan.Valid, string.Join("; ", plan.Errors));
        Assert.Equal(
            [("start", "work_0"), ("start", "work_1"), ("start", "work_2"), ("work_0", "join"), ("work_1", "join"), ("work_2", "join")],
            plan.Edges.Order());
    }

    [Fact]
    public void Cycle_IsRejected_NamingEveryTaskOnIt()
    {
        var plan = Plan("""
            {"tasks":{"a":{"job":{"command":["/bin/echo"]},"children":["b"]},
                      "b":{"job":{"command":["/bin/echo"]},"children":["c"]},
                      "c":{"job":{"command":["/bin/echo"]},"children":["a"]},
                      "free":{"job":{"command":["/bin/echo"]},"parents":["a"]}}}
            """);

        var error = Assert.Single(plan.Errors);
        Assert.StartsWith("cycle: ", error);
        foreach (var name in new[] { "'a'", "'b'", "'c'" }) Assert.Contains(name.Trim('\''), error);
        Assert.DoesNotContain("free", error);
    }

    [Fact]
    public void SelfLoop_IsACycle()
    {
        var plan = Plan("""{"tasks":{"loop":{"job":{"command":["/bin/echo"]},"parents":["loop"]}}}""");
        Assert.Equal(["cycle: loop → loop"], plan.Errors);
    }

    [Fact]
    public void UnknownParentAndChild_AreEachNamed()
    {
        var plan = Plan("""{"tasks":{"a":{"job":{"command":["/bin/echo"]},"parents":["ghost"],"children":["phantom"]}}}""");

        Assert.Contains(plan.Errors, e => e.Contains("'a'") && e.Contains("unknown parent 'ghost'"));
        Assert.Contains(plan.Errors, e => e.Contains("'a'") && e.Contains("unknown child 'phantom'"));
    }

    [Fact]
    public void UndefinedParameter_IsRejected_WithItsName()
    {
        var plan = Plan("""{"parameters":{"A":["1"]},"tasks":{"t":{"job":{"command":["/bin/echo","{{MISSING}}"]}}}}""");
        var error = Assert.Single(plan.Errors);
        Assert.Contains("{{MISSING}}", error);
        Assert.Contains("'t'", error);
    }

    [Fact]
    public void EveryProblem_GetsItsOwnMessage()
    {
        var plan = Plan("""
            {"tasks":{"empty":{"job":{"command":[]}},
                      "forbidden":{"job":{"command":["/usr/bin/rm","-rf","/"]}},
                      "handler":{"job":{"task":"no.such.handler"}},
                      "numbers":{"job":{"command":["/bin/echo"],"cores":"lots","memoryMB":"-5"},"maxRetries":-1,"retryIntervalSeconds":"soon"},
                      "ok":{"job":{"task":"demo.noop","args":{"x":1}}}}}
            """);

        Assert.Contains(plan.Errors, e => e.Contains("'empty'") && e.Contains("command is empty"));
        Assert.Contains(plan.Errors, e => e.Contains("'forbidden'") && e.Contains("/usr/bin/rm"));
        Assert.Contains(plan.Errors, e => e.Contains("'handler'") && e.Contains("no.such.handler"));
        Assert.Contains(plan.Errors, e => e.Contains("'numbers'") && e.Contains("cores"));
        Assert.Contains(plan.Errors, e => e.Contains("'numbers'") && e.Contains("memoryMB"));
        Assert.Contains(plan.Errors, e => e.Contains("'numbers'") && e.Contains("maxRetries"));
        Assert.Contains(plan.Errors, e => e.Contains("'numbers'") && e.Contains("retryIntervalSeconds"));
        Assert.Equal(7, plan.Errors.Count);
        Assert.DoesNotContain(plan.Errors, e => e.Contains("'ok'"));
    }

    [Fact]
    public void InstanceName_CollidingWithAnotherTask_IsRejected()
    {
        var plan = Plan("""
            {"parameters":{"N":["1","2"]},
             "tasks":{"x":{"job":{"command":["/bin/echo","{{N}}"]}},"x_1":{"job":{"command":["/bin/echo"]}}}}
            """);
        Assert.Contains(plan.Errors, e => e.Contains("'x_1'") && e.Contains("twice"));
    }

    [Fact]
    public void GeneratedTasks_MayNameTasksAlreadyInTheRun()
    {
        var errors = new List<string>();
        using var document = JsonDocument.Parse("""{"g1":{"job":{"command":["/bin/echo"]},"parents":["existing"]}}""");
        var tasks = new DaggySpecReader().ReadTasks(document.RootElement, errors);
        var plan = DagPlanner.Plan(tasks, [], Checks, new DagContext(["existing"], []), errors);

        Assert.True(plan.Valid, string.Join("; ", plan.Errors));
        Assert.Equal([("existing", "g1")], plan.Edges);
    }

    [Fact]
    public void TenThousandTaskSpec_ExpandsAndValidates()
    {
        var values = string.Join(",", Enumerable.Range(0, 100).Select(i => $"\"{i}\""));
        var plan = Plan("""{"parameters":{"A":[VALUES],"B":[VALUES]},"tasks":{"work":{"job":{"command":["/bin/echo","{{A}}","{{B}}"]},"children":["join"]},"join":{"job":{"command":["/bin/echo"]}}}}"""
            .Replace("VALUES", values));

        Assert.True(plan.Valid, string.Join("; ", plan.Errors.Take(3)));
        Assert.Equal(10_001, plan.Tasks.Count);
        Assert.Equal(10_000, plan.Edges.Count);
    }

    [Fact]
    public void LongChain_IsNotMistakenForACycle()
    {
        var chain = Enumerable.Range(0, 20_000).Select(i => (i.ToString(), (i + 1).ToString()));
        Assert.Empty(DagPlanner.FindCycles(Enumerable.Range(0, 20_001).Select(i => i.ToString()), chain));
        Assert.Single(DagPlanner.FindCycles(["a", "b"], [("a", "b"), ("b", "a")]));
    }
}
