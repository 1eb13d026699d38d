using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bunit;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Executions;
using Taskdeck.Core;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Console;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Secrets;

/// <summary>
/// Secret-looking environment values are shown as *** everywhere a run is shown (daggy's run, django-ray's execution,
/// the executor log, the console's detail page); <c>{{secret:NAME}}</c> reaches the process resolved and is stored as
/// the reference only; an unknown name is refused at submit.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class SecretTests(EngineHost host) : MudTestContext
{
    private const string Plain = "plain-value-7d2e81";
    private readonly HttpClient _http = host.CreateClient();

    [Fact]
    public async Task DagRun_RedactsSecretLookingEnvironment_AndTheProcessGetsTheResolvedSecret_WhichIsNeverStored()
    {
        var spec = $$$"""
            { "tag": "secrets",
              "tasks": { "echo": { "job": { "command": [ "/bin/echo", "token={{secret:TEST_SECRET}}" ],
                                            "environment": [ "AWS_SECRET_ACCESS_KEY={{{Plain}}}", "API_TOKEN={{secret:TEST_SECRET}}", "COLOR=blue" ] } },
                         "digest": { "job": { "command": [ "/bin/sh", "-c", "printf %s \"$API_TOKEN\" | /usr/bin/sha256sum; echo \"key=$AWS_SECRET_ACCESS_KEY\"" ],
                                              "environment": [ "AWS_SECRET_ACCESS_KEY={{{Plain}}}", "API_TOKEN={{secret:TEST_SECRET}}" ] } } } }
            """;
        using var submitted = await _http.PostAsync("/v1/dagrun", new StringContent(spec, Encoding.UTF8, "application/json"));
        Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync());
        var runId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runID").GetInt64();

        var run = await WaitForRunAsync(runId, "COMPLETED");
        var text = run.GetRawText();
        Assert.DoesNotContain(Plain, text);
        var environment = run.GetProperty("tasks").GetProperty("echo").GetProperty("job").GetProperty("environment").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(["AWS_SECRET_ACCESS_KEY=***", "API_TOKEN={{secret:TEST_SECRET}}", "COLOR=blue"], environment);
        // What the process printed of a secret is masked in its log, as stored and as shown; that the process received the
        // value shows in its digest. The run keeps only the reference.
        var attempt = run.GetProperty("taskAttempts").GetProperty("echo")[0];
        Assert.Equal("token=***\n", attempt.GetProperty("outputLog").GetString());
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(EngineHost.SecretValue)));
        Assert.Equal($"{digest}  -\nkey=***\n", run.GetProperty("taskAttempts").GetProperty("digest")[0].GetProperty("outputLog").GetString());
        Assert.Contains("AWS_SECRET_ACCESS_KEY=***", attempt.GetProperty("executorLog").GetString());
        Assert.DoesNotContain(Plain, attempt.GetProperty("executorLog").GetString());
        Assert.Equal(["/bin/echo", "token={{secret:TEST_SECRET}}"],
            run.GetProperty("tasks").GetProperty("echo").GetProperty("job").GetProperty("command").EnumerateArray().Select(e => e.GetString()));

        await using var db = await host.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var stored = await db.Executions.AsNoTracking().Where(e => e.DagRunId == runId && e.DagTaskName == "echo").SingleAsync();
        Assert.Contains("{{secret:TEST_SECRET}}", stored.Command[1]);
        Assert.DoesNotContain(EngineHost.SecretValue, JsonSerializer.Serialize(stored.Command) + JsonSerializer.Serialize(stored.Environment));
        var spec_ = await db.DagRuns.AsNoTracking().Where(r => r.Id == runId).Select(r => r.SpecJson).SingleAsync();
        Assert.DoesNotContain(EngineHost.SecretValue, spec_);
        var ids = await db.Executions.AsNoTracking().Where(e => e.DagRunId == runId).Select(e => e.Id).ToListAsync();
        var storedLogs = string.Concat(await db.LogEntries.AsNoTracking().Where(l => ids.Contains(l.ExecutionId)).Select(l => l.Text).ToListAsync());
        Assert.DoesNotContain(EngineHost.SecretValue, storedLogs);
        Assert.DoesNotContain(Plain, storedLogs);
    }

    /// <summary>
    /// A command that prints its own secret-looking variable (as a careless script does) leaves *** in its captured log:
    /// in the stored rows, the API's log text, the execution detail and the console; the value reaches no line the
    /// server logs either.
    /// </summary>
    [Fact]
    public async Task Command_PrintingItsSecretLookingVariable_IsMaskedInTheStoredAndShownLog_AndInNoServerLogLine()
    {
        var value = "wJalrXUtnFEMI/K7MDENG/" + Guid.NewGuid().ToString("N");
        using var submitted = await _http.PostAsJsonAsync("/api/tasks", new
        {
            command = new[] { "/usr/bin/printenv", "AWS_SECRET_ACCESS_KEY" },
            environment = new[] { $"AWS_SECRET_ACCESS_KEY={value}", "REGION=eu-west-1" },
        });
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await host.WaitForStateAsync(id, ExecutionState.Succeeded, TimeSpan.FromMinutes(2));

        Assert.Equal("***\n", await _http.GetStringAsync($"/api/executions/{id}/attempts/1/logs/output"));
        Assert.DoesNotContain(value, await _http.GetStringAsync($"/api/executions/{id}"));
        await using (var db = await host.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync())
        {
            var stored = await db.LogEntries.AsNoTracking().Where(l => l.ExecutionId == id).Select(l => l.Text).ToListAsync();
            Assert.Contains("***\n", string.Concat(stored));
            Assert.DoesNotContain(value, string.Concat(stored));
        }

        Services.AddSingleton(host.Get<ExecutionQueries>());
        Services.AddSingleton(host.Get<ExecutionService>());
        Services.AddSingleton(host.Get<Taskdeck.Core.Workers.NodeIdentity>());
        Services.AddSingleton(host.Get<IOptions<TaskdeckOptions>>());
        Services.AddSingleton(new ConsoleActor(host.Services, new HttpContextAccessor()));
        var page = Render<ExecutionDetailPage>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.Contains("AWS_SECRET_ACCESS_KEY=***", page.Markup), TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(value, page.Markup);

        Assert.NotEmpty(host.ServerLogs.Lines);
        Assert.DoesNotContain(host.ServerLogs.Lines, line => line.Contains(value, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Execution_ApiLogAndConsoleDetail_NeverShowASecretLookingValue()
    {
        using var submitted = await _http.PostAsJsonAsync("/api/tasks", new
        {
            command = new[] { "/bin/true" },
            environment = new[] { $"DB_PASSWORD={Plain}", "REGION=eu" },
        });
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await host.WaitForStateAsync(id, ExecutionState.Succeeded, TimeSpan.FromMinutes(2));

        var api = await _http.GetStringAsync($"/api/executions/{id}");
        Assert.DoesNotContain(Plain, api);
        var shown = JsonDocument.Parse(api).RootElement.GetProperty("environment").EnumerateArray().Select(e => e.GetString());
        Assert.Equal(["DB_PASSWORD=***", "REGION=eu"], shown);

        var logs = new StringBuilder();
        foreach (var stream in new[] { "output", "error", "executor" })
            logs.Append(await _http.GetStringAsync($"/api/executions/{id}/attempts/1/logs/{stream}"));
        Assert.Contains("environment: DB_PASSWORD=*** REGION=eu", logs.ToString());
        Assert.DoesNotContain(Plain, logs.ToString());

        Services.AddSingleton(host.Get<ExecutionQueries>());
        Services.AddSingleton(host.Get<ExecutionService>());
        Services.AddSingleton(host.Get<Taskdeck.Core.Workers.NodeIdentity>());
        Services.AddSingleton(host.Get<IOptions<TaskdeckOptions>>());
        Services.AddSingleton(new ConsoleActor(host.Services, new HttpContextAccessor()));
        var page = Render<ExecutionDetailPage>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.Contains("DB_PASSWORD=***", page.Markup), TimeSpan.FromSeconds(20));
        Assert.Contains("REGION=eu", page.Markup);
        Assert.DoesNotContain(Plain, page.Markup);
    }

    [Fact]
    public async Task UnknownSecret_IsRefusedAtSubmit_WithAProblemNamingIt_AndNothingStored()
    {
        var marker = "q" + Guid.NewGuid().ToString("N")[..10];
        using var task = await _http.PostAsJsonAsync("/api/tasks", new { command = new[] { "/bin/echo", "{{secret:NO_SUCH_SECRET}}" }, queue = marker });
        Assert.Equal(HttpStatusCode.BadRequest, task.StatusCode);
        var problem = await task.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("command", problem.GetProperty("field").GetString());
        Assert.Contains("NO_SUCH_SECRET", problem.GetProperty("detail").GetString());
        Assert.Contains("Taskdeck:Secrets:Values:NO_SUCH_SECRET", problem.GetProperty("detail").GetString());

        var dag = $$$"""{ "tag": "{{{marker}}}", "tasks": { "a": { "job": { "command": [ "/bin/true" ], "environment": [ "X={{secret:MISSING_ONE}}" ] } } } }""";
        using var run = await _http.PostAsync("/v1/dagrun", new StringContent(dag, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, run.StatusCode);
        Assert.Contains("MISSING_ONE", (await run.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());

        await using var db = await host.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        Assert.False(await db.Executions.AnyAsync(e => e.Queue == marker));
        Assert.False(await db.DagRuns.AnyAsync(r => r.Tag == marker));
    }

    private async Task<JsonElement> WaitForRunAsync(long runId, string state)
    {
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        JsonElement last = default;
        while (DateTime.UtcNow < until)
        {
            last = await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}");
            if (last.GetProperty("taskStates").EnumerateObject().All(t => t.Value.GetString() == state)
                && (await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/state")).GetProperty("state").GetString() == state)
                return last;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"DAG run {runId} did not reach {state}: {last}");
    }
}
