using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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

    // The start itself, not only the validator: a host with the real registration (AddTaskdeckWorkTasks) refuses to start.
    // Fails if the registration loses ValidateOnStart (the broken variant this was checked against).
    [Theory]
    [InlineData("handler-unknown")]
    [InlineData("both")]
    [InlineData("command-not-allowed")]
    [InlineData("bad-timeout")]
    public async Task AWrongBinding_StopsTheStart_NamingItsKey(string which)
    {
        const string key = "Taskdeck:WorkTasks:Types:ml_training";
        var settings = which switch
        {
            "handler-unknown" => new Dictionary<string, string?> { [$"{key}:Handler"] = "no.such.handler" },
            "both" => new() { [$"{key}:Handler"] = "demo.sleep", [$"{key}:Command:0"] = "/bin/sh" },
            "command-not-allowed" => new() { [$"{key}:Command:0"] = "/usr/bin/python3", [$"{key}:Command:1"] = "w.py" },
            _ => new() { [$"{key}:Handler"] = "demo.sleep", [$"{key}:TimeoutSeconds"] = "0" },
        };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddDemoHandlers();
        builder.Services.AddSingleton(Options.Create(new TaskdeckOptions { Commands = new CommandOptions { Enabled = true, Allow = ["/bin/sh"] } }));
        builder.Services.AddTaskdeckWorkTasks(builder.Configuration);
        // Only the start's validation is under test: the engine's background services are not part of this host.
        builder.Services.RemoveAll<Microsoft.Extensions.Hosting.IHostedService>();
        using var host = builder.Build();

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(key, refused.Message);
        var valid = Validate(With("ml_training", new WorkTaskTypeOptions { Handler = "demo.sleep" }));
        Assert.True(valid.Succeeded, valid.FailureMessage);
    }
}
