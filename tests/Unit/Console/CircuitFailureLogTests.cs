using System.Reflection;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Taskdeck.Console.Hosting;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.Console;

/// <summary>
/// A page whose circuit Blazor ended (it logs why at Debug only) is a warning in the node's log, at the levels the node
/// ships with (<c>Microsoft.AspNetCore</c> at Warning).
/// </summary>
public sealed class CircuitFailureLogTests
{
    private static (ILoggerFactory Factory, LogCapture Capture) LoggingAsShipped()
    {
        var capture = new LogCapture();
        var services = new ServiceCollection().AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            logging.AddProvider(capture);
            logging.AddCircuitFailureLog();
        });
        return (services.BuildServiceProvider().GetRequiredService<ILoggerFactory>(), capture);
    }

    [Fact]
    public void AnEventForAHandlerThatNoLongerExists_EndsTheCircuit_AndIsLoggedAsAWarning_WithItsException()
    {
        var (factory, capture) = LoggingAsShipped();
        var blazor = factory.CreateLogger(CircuitFailureLog.BlazorCategory);

        blazor.Log(LogLevel.Debug, new EventId(201, "DispatchEventFailedToDispatchEvent"),
            new ArgumentException("There is no event handler associated with this event. EventId: '42'."),
            "There was an error dispatching the event '42' to the application.");

        var line = Assert.Single(capture.Lines);
        Assert.StartsWith($"Warning {CircuitFailureLog.Category}:", line);
        Assert.Contains("DispatchEventFailedToDispatchEvent", line);
        Assert.Contains("There is no event handler associated with this event", line);
    }

    [Fact]
    public void TheCircuitHostsRoutineDebugEvents_StayOutOfTheLog()
    {
        var (factory, capture) = LoggingAsShipped();
        var blazor = factory.CreateLogger(CircuitFailureLog.BlazorCategory);

        blazor.Log(LogLevel.Debug, new EventId(206, "EndInvokeJSSucceeded"), "The JS interop call with callback id '7' succeeded.");
        blazor.Log(LogLevel.Debug, new EventId(208, "LocationChange"), "Location changing to /executions.");

        Assert.Empty(capture.Lines);
    }

    [Fact]
    public void EveryEventNameWatched_IsOneTheCircuitHostOfThisAspNetCoreLogs()
    {
        // The names are matched as text: a framework upgrade that renames one would silently stop the warning.
        var log = typeof(CircuitOptions).Assembly.GetType("Microsoft.AspNetCore.Components.Server.Circuits.CircuitHost+Log", throwOnError: true)!;
        var names = log.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>()?.EventName)
            .OfType<string>()
            .ToHashSet();

        Assert.Superset(CircuitFailureLog.CircuitEnding.ToHashSet(), names);
    }
}
