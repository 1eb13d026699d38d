using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Taskdeck.Unit.Auth;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AnonymousViewerCollection : ICollectionFixture<AnonymousViewerHost>
{
    public const string Name = "Auth (anonymous Viewer)";
}

/// <summary>The app with <c>Taskdeck:Auth:Anonymous</c> = Viewer, keeping its log lines.</summary>
public sealed class AnonymousViewerHost() : AuthHost(new Dictionary<string, string?> { ["Taskdeck:Auth:Anonymous"] = "Viewer" })
{
    public ConcurrentQueue<string> Log { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.AddProvider(new ListLogger(Log)));
    }

    private sealed class ListLogger(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
        }
        public void Dispose() { }
    }
}

/// <summary>Anonymous access by choice: reads without a header, but acting still needs credentials; every start warns.</summary>
[Collection(AnonymousViewerCollection.Name)]
public sealed class AnonymousAccessTests(AnonymousViewerHost host)
{
    [Fact]
    public async Task AnonymousViewer_Reads_ButCannotCancel()
    {
        var id = await host.SubmitWaitingAsync();
        var client = host.Anonymous();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/executions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        // Refused as "sign in": credentials would change the answer.
        var problem = await AuthHost.ProblemAsync(await client.PostAsync($"/api/executions/{id}/cancel", null), HttpStatusCode.Unauthorized, "anonymous cancel");
        Assert.Contains("Anonymous access (Viewer)", (string?)problem["detail"]);
        // A page beyond the role sends the person to sign in.
        Assert.StartsWith("/login", (await client.GetAsync("/audit")).Headers.Location!.OriginalString.Replace("http://localhost", ""));
    }

    [Fact]
    public void EveryStart_WarnsThatAnonymousAccessIsOn()
    {
        Assert.NotNull(host.Services); // started
        Assert.Contains(host.Log, line => line.StartsWith("Warning: Anonymous access is on (Taskdeck:Auth:Anonymous = Viewer)"));
    }

    [Fact]
    public async Task WhileAWorkerTokenIsConfigured_AnonymousAccess_DoesNotOpenTheWorkTaskApi()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Anonymous().GetAsync("/api/worktasks")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Bearer(AuthHost.WorkerSecret).GetAsync("/api/worktasks")).StatusCode);
    }
}
