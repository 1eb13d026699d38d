using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Taskdeck.Console.Api;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Api;

/// <summary>
/// A database that refused a request is a 503 to send again; a commit whose answer was lost is not — sending a submission
/// again could store it twice — so it is a 500 that says its outcome is unknown, without Retry-After.
/// </summary>
public sealed class StorageFailureAnswerTests
{
    [Fact]
    public async Task RefusedByTheDatabase_Is503_WithRetryAfter()
    {
        var (status, retryAfter, problem) = await AnswerAsync(new NpgsqlException("connection refused", new System.Net.Sockets.SocketException(111)));

        Assert.Equal((503, "1"), (status, retryAfter));
        Assert.Equal("Storage unavailable", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task ACommitWhoseAnswerWasLost_Is500_OutcomeUnknown_WithoutRetryAfter()
    {
        var lost = new CommitOutcomeUnknownException(new NpgsqlException("connection broke", new IOException("reset by peer")));

        var (status, retryAfter, problem) = await AnswerAsync(lost);

        Assert.Equal((500, ""), (status, retryAfter));
        Assert.Equal("Outcome unknown", problem.GetProperty("title").GetString());
        Assert.Contains("may or may not have been stored", problem.GetProperty("detail").GetString());
    }

    private static async Task<(int Status, string RetryAfter, JsonElement Problem)> AnswerAsync(Exception failure)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services };
        http.Request.Method = "POST";
        http.Request.Path = "/api/tasks";
        http.Response.Body = new MemoryStream();
        var handler = new ApiExceptionHandler(services.GetRequiredService<Microsoft.AspNetCore.Http.IProblemDetailsService>(), NullLogger<ApiExceptionHandler>.Instance);

        Assert.True(await handler.TryHandleAsync(http, failure, CancellationToken.None));

        http.Response.Body.Position = 0;
        return (http.Response.StatusCode, http.Response.Headers.RetryAfter.ToString(), JsonDocument.Parse(http.Response.Body).RootElement.Clone());
    }
}
