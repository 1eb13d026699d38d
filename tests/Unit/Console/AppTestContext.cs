using Bunit;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Console;

/// <summary>
/// bunit on the running app (the engine collection's <see cref="EngineHost"/>): what a test does not register itself,
/// a component gets from the app's own services — its real stores, engine and policies.
/// </summary>
public abstract class AppTestContext : MudTestContext
{
    /// <summary>How long a component may take to show what the engine did, on a loaded machine.</summary>
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    protected AppTestContext(EngineHost host)
    {
        Host = host;
        Services.AddFallbackServiceProvider(host.Services);
    }

    protected EngineHost Host { get; }
}
