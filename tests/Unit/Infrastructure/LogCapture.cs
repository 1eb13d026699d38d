using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Unit.Infrastructure;

/// <summary>
/// The server's own log lines (message and exception), as its configured providers would write them, kept in memory so
/// a test can show a value never reached them. Bounded: the oldest lines go first.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    private const int MaxLines = 50_000;
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    private void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > MaxLines && _lines.TryDequeue(out _)) { }
    }

    public void Dispose() { }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture.Add($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
    }
}
