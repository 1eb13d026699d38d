using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Taskdeck.Console.Hosting;

/// <summary>
/// Blazor ends a page's circuit when a message from the browser cannot be handled — an event for a handler that no
/// longer exists, a JS interop answer it cannot read, a render batch the browser failed to apply — and logs why at
/// <c>Debug</c> only. The browser then stops the connection for good (no reconnect), so the operator sees a page that
/// no longer answers while the node's log, at its usual levels, says nothing. This provider takes those events from
/// Blazor's circuit host and writes them again as warnings, with their exception, under <see cref="Category"/>.
/// </summary>
public sealed class CircuitFailureLog(IServiceProvider services) : ILoggerProvider
{
    public const string BlazorCategory = "Microsoft.AspNetCore.Components.Server.Circuits.CircuitHost";
    public const string Category = "Taskdeck.Console.CircuitFailures";

    /// <summary>The circuit host's events (by name: their numbers moved between releases) that end the circuit.</summary>
    public static readonly IReadOnlySet<string> CircuitEnding = new HashSet<string>
    {
        "InitializationFailed", "DispatchEventFailedToParseEventData", "DispatchEventFailedToDispatchEvent",
        "BeginInvokeDotNetFailed", "BeginInvokeDotNetStaticFailed", "EndInvokeDispatchException", "LocationChangeFailed",
        "OnRenderCompletedFailed", "ReceiveByteArrayException", "ReceiveJSDataChunkException", "SendDotNetStreamException",
    };

    private ILogger? _target;

    private ILogger Target => _target ??= services.GetRequiredService<ILoggerFactory>().CreateLogger(Category);

    public ILogger CreateLogger(string categoryName) =>
        categoryName == BlazorCategory ? new Relay(this) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void Dispose() { }

    private sealed class Relay(CircuitFailureLog log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Name is not { } name || !CircuitEnding.Contains(name)) return;
            log.Target.LogWarning(exception, "A console page's circuit was ended by the server ({Event}): {Message} The page shows its error bar and stops updating until it is reloaded.",
                name, formatter(state, exception));
        }
    }
}

public static class CircuitFailureLogSetup
{
    /// <summary>Lets the circuit host's <c>Debug</c> events reach <see cref="CircuitFailureLog"/> alone, whatever the levels set for ASP.NET Core.</summary>
    public static ILoggingBuilder AddCircuitFailureLog(this ILoggingBuilder logging)
    {
        logging.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, CircuitFailureLog>());
        logging.AddFilter<CircuitFailureLog>(CircuitFailureLog.BlazorCategory, LogLevel.Debug);
        return logging;
    }
}
