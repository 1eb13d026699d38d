using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Console.Components.Executions;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;

namespace Taskdeck.Unit.Console;

public sealed class LogViewerTests : MudTestContext
{
    [Fact]
    public void LogViewer_ShowsStoredText_ThenAppendsStreamedLines_OfItsOwnStreamOnly()
    {
        var stored = DateTimeOffset.UtcNow.AddSeconds(-5);
        IReadOnlyList<LogEntry> entries = [new LogEntry { ExecutionId = 9, AttemptNumber = 2, Stream = LogStream.Output, At = stored, Text = "stored line\n" }];
        var cut = Render<LogViewer>(p => p
            .Add(v => v.ExecutionId, 9L).Add(v => v.Attempt, 2).Add(v => v.Stream, LogStream.Output).Add(v => v.Live, true)
            .Add(v => v.Load, (_, _) => Task.FromResult(entries)));
        cut.WaitForAssertion(() => Assert.Contains("stored line", cut.Find("pre").TextContent), TimeSpan.FromSeconds(20));

        var events = Services.GetRequiredService<ExecutionEvents>();
        var now = DateTimeOffset.UtcNow;
        events.Publish(new LogAppended(9, now, 2, LogStream.Output, "streamed one\n"));
        events.Publish(new LogAppended(9, now.AddMilliseconds(1), 2, LogStream.Error, "an error line\n"));
        events.Publish(new LogAppended(9, now.AddMilliseconds(2), 1, LogStream.Output, "older attempt\n"));
        events.Publish(new LogAppended(8, now.AddMilliseconds(3), 2, LogStream.Output, "another execution\n"));
        events.Publish(new LogAppended(9, now.AddMilliseconds(4), 2, LogStream.Output, "streamed two\n"));

        cut.WaitForAssertion(() => Assert.Equal("stored line\nstreamed one\nstreamed two\n", cut.Find("pre").TextContent), TimeSpan.FromSeconds(20));
        Assert.Contains("Tailing live", cut.Markup);
    }

    [Fact]
    public void LogViewer_SkipsAStreamedChunkTheStoredTextAlreadyHolds()
    {
        var at = DateTimeOffset.UtcNow;
        var events = Services.GetRequiredService<ExecutionEvents>();
        var release = new TaskCompletionSource<IReadOnlyList<LogEntry>>();
        var cut = Render<LogViewer>(p => p
            .Add(v => v.ExecutionId, 3L).Add(v => v.Attempt, 1).Add(v => v.Stream, LogStream.Output)
            .Add(v => v.Load, (_, _) => release.Task));

        // Published while the stored text is loading: the same chunk then comes back from the database.
        events.Publish(new LogAppended(3, at, 1, LogStream.Output, "once\n"));
        events.Publish(new LogAppended(3, at.AddMilliseconds(5), 1, LogStream.Output, "after\n"));
        release.SetResult([new LogEntry { ExecutionId = 3, AttemptNumber = 1, Stream = LogStream.Output, At = at, Text = "once\n" }]);

        cut.WaitForAssertion(() => Assert.Equal("once\nafter\n", cut.Find("pre").TextContent), TimeSpan.FromSeconds(20));
    }
}
