using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Executors;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Unit.WorkTasks;

public class WorkTaskOptionsTests
{
    private static ValidateOptionsResult Validate(WorkTaskOptions options, CommandOptions? commands = null)
    {
        var services = new ServiceCollection().AddDemoHandlers();
        services.AddSingleton(Options.Create(new TaskdeckOptions { Commands = commands ?? new CommandOptions { Enabled = true, Allow = ["/bin/sh"] } }));
        using var provider = services.BuildServiceProvider();
        return new ValidateWorkTaskOptions(provider).Validate(null, options);
    }

    private static WorkTaskOptions With(string type, WorkTaskTypeOptions binding) => new() { Types = { [type] = binding } };

    [Fact]
    public void ValidBindings_Pass()
    {
        var options = new WorkTaskOptions
        {
            Types =
            {
                ["a"] = new WorkTaskTypeOptions { Handler = "demo.sleep" },
                ["b"] = new WorkTaskTypeOptions { Command = ["/bin/sh", "worker.sh"], TimeoutSeconds = 60 },
                ["c"] = new WorkTaskTypeOptions { ExternalOnly = true },
            },
        };
        Assert.True(Validate(options).Succeeded);
        Assert.Equal(WorkTaskBinding.Handler, options.BindingFor("a").Binding);
        Assert.Equal(WorkTaskBinding.Spawned, options.BindingFor("b").Binding);
        Assert.Equal(WorkTaskBinding.External, options.BindingFor("c").Binding);
        Assert.True(options.IsKnown("c"));
        Assert.False(options.IsKnown("d"));
    }

    [Fact]
    public void TheNewerDigitalTwinName_UsesTheOlderNamesBinding_UnlessItHasItsOwn()
    {
        var options = With("digital_twin_update", new WorkTaskTypeOptions { Handler = "demo.noop" });
        Assert.Equal("demo.noop", options.BindingFor("digital_twin_processing").Handler);
        options.Types["digital_twin_processing"] = new WorkTaskTypeOptions { Handler = "demo.echo" };
        Assert.Equal("demo.echo", options.BindingFor("digital_twin_processing").Handler);
        Assert.Equal(WorkTaskBinding.External, new WorkTaskOptions().BindingFor("ml_training").Binding);
    }

    [Theory]
    [InlineData("handler-unknown")]
    [InlineData("both")]
    [InlineData("command-not-allowed")]
    [InlineData("bad-timeout")]
    public void AWrongBinding_StopsTheStart_NamingItsKey(string which)
    {
        var binding = which switch
        {
            "handler-unknown" => new WorkTaskTypeOptions { Handler = "no.such.handler" },
            "both" => new WorkTaskTypeOptions { Handler = "demo.sleep", Command = ["/bin/sh"] },
            "command-not-allowed" => new WorkTaskTypeOptions { Command = ["/usr/bin/python3", "w.py"] },
            _ => new WorkTaskTypeOptions { Handler = "demo.sleep", TimeoutSeconds = 0 },
        };
        var result = Validate(With("ml_training", binding));
        Assert.True(result.Failed);
        Assert.Contains("Taskdeck:WorkTasks:Types:ml_training", result.FailureMessage);
    }
}
