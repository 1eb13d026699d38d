using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Executors;

namespace Taskdeck.Unit.Executions;

/// <summary>An allow-list that lets anything through says so at every start.</summary>
public sealed class CommandDoorWarningTests
{
    [Fact]
    public async Task AStar_IsWarnedAbout_AtStart()
    {
        var logged = await StartAsync(new CommandOptions { Enabled = true, Allow = ["*"] });
        Assert.Contains(logged, l => l.Level == LogLevel.Warning && l.Text.Contains("\"*\""));
    }

    [Fact]
    public async Task AnAllowListedShell_IsWarnedAbout_AtStart_ButFixedProgramsAreNot()
    {
        var logged = await StartAsync(new CommandOptions { Enabled = true, Allow = ["/bin/echo", "/bin/sh"] });
        var warning = Assert.Single(logged, l => l.Level == LogLevel.Warning && l.Text.Contains("runs whatever code it is handed"));
        Assert.Contains("/bin/sh", warning.Text);
        Assert.DoesNotContain(logged, l => l.Text.Contains("/bin/echo"));
    }

    [Fact]
    public async Task DisabledCommands_WarnAboutNothing() =>
        Assert.Empty(await StartAsync(new CommandOptions { Enabled = false, Allow = ["*"] }));

    private static async Task<List<(LogLevel Level, string Text)>> StartAsync(CommandOptions commands)
    {
        var logger = new ListLogger();
        await new CommandDoorWarnings(Options.Create(new TaskdeckOptions { Commands = commands }), logger).StartAsync(CancellationToken.None);
        return logger.Entries.Where(e => !e.Text.Contains("setsid")).ToList();
    }

    private sealed class ListLogger : ILogger<CommandDoorWarnings>
    {
        public List<(LogLevel Level, string Text)> Entries { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }
}
