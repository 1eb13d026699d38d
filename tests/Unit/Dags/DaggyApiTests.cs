using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;
using Taskdeck.Data.Executions;
using Taskdeck.Unit.Engine;

namespace Taskdeck.Unit.Dags;

/// <summary>daggy's API end to end: the real app, a temp SQLite file, real Hangfire workers and real processes.</summary>
[Collection(EngineCollection.Name)]
public sealed class DaggyApiTests(EngineHost host)
{
    private readonly HttpClient _http = host.CreateClient();

    /// <summary>The seed's "Example DAG Run", copied verbatim: the keys our answer must carry.</summary>
    private const string SeedExampleRun = """
        { "runID": 0, "tag": "mediumtest",
          "tasks": { "simple_0": { "maxRetries": 0, "retryIntervalSeconds": 0,
                       "job": { "environment": [], "memoryMB": "100", "cores": "1", "command": [ "/usr/bin/python3", "script.py", "1" ] },
                       "children": [], "parents": [], "isGenerator": false } },
          "taskStates": { "simple_0": "COMPLETED" },
          "taskAttempts": { "simple_0": [ { "startTime": "1645112246001010638", "stopTime": "1645112256116473300", "rc": 0,
                       "outputLog": "Echoing script.py 1 env is not found, value is >><< \n", "errorLog": "", "executorLog": "" } ] },
          "dagStateChanges": [ { "time": "1645112245996647771", "state": "QUEUED" } ] }
        """;

    [Fact]
    public async Task SeedExample_RunsOneInstancePerParameter_AndAnswersWithTheSeedsShape()
    {
        var runId = await SubmitAsync("""
            { "tag": "mediumtest", "parameters": { "JOBNO": [ "1", "2" ] },
              "tasks": { "simple": { "job": { "command": [ "/bin/echo", "script.py", "{{JOBNO}}" ], "cores": "1", "memoryMB": "100" } } } }
            """);

        await WaitForRunStateAsync(runId, "COMPLETED");
        var run = await GetRunAsync(runId);
        using var seed = JsonDocument.Parse(SeedExampleRun);

        Assert.Equal(Keys(seed.RootElement), Keys(run));
        Assert.Equal(runId, run.GetProperty("runID").GetInt64());
        Assert.Equal("mediumtest", run.GetProperty("tag").GetString());
        Assert.Equal(["simple_0", "simple_1"], Keys(run.GetProperty("tasks")).Order());
        var seedTask = seed.RootElement.GetProperty("tasks").GetProperty("simple_0");
        var seedAttempt = seed.RootElement.GetProperty("taskAttempts").GetProperty("simple_0")[0];
        foreach (var (name, value) in new[] { ("simple_0", "1"), ("simple_1", "2") })
        {
            var task = run.GetProperty("tasks").GetProperty(name);
            Assert.Equal(Keys(seedTask), Keys(task));
            Assert.Equal(Keys(seedTask.GetProperty("job")), Keys(task.GetProperty("job")));
            Assert.Equal("1", task.GetProperty("job").GetProperty("cores").GetString());
            Assert.Equal("100", task.GetProperty("job").GetProperty("memoryMB").GetString());
            Assert.Equal(["/bin/echo", "script.py", value], task.GetProperty("job").GetProperty("command").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("COMPLETED", run.GetProperty("taskStates").GetProperty(name).GetString());

            var attempt = Assert.Single(run.GetProperty("taskAttempts").GetProperty(name).EnumerateArray());
            Assert.Equal(Keys(seedAttempt), Keys(attempt));
            Assert.Equal(0, attempt.GetProperty("rc").GetInt32());
            Assert.Equal($"script.py {value}\n", attempt.GetProperty("outputLog").GetString());
            Assert.True(Nanos(attempt, "stopTime") >= Nanos(attempt, "startTime"));
            Assert.InRange(Nanos(attempt, "startTime"), DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds() * 1_000_000L, long.MaxValue);
        }
        var changes = run.GetProperty("dagStateChanges").EnumerateArray().ToList();
        Assert.Equal(["QUEUED", "RUNNING", "COMPLETED"], changes.Select(c => c.GetProperty("state").GetString()));
        Assert.Equal(Keys(seed.RootElement.GetProperty("dagStateChanges")[0]), Keys(changes[0]));

        var all = await _http.GetFromJsonAsync<JsonElement>("/v1/dagruns?all=1");
        var listed = all.EnumerateArray().Single(r => r.GetProperty("runID").GetInt64() == runId);
        Assert.Equal(["lastUpdate", "runID", "startTime", "state", "tag", "taskCounts"], Keys(listed).Order());
        Assert.Equal("COMPLETED", listed.GetProperty("state").GetString());
        Assert.Equal(2, listed.GetProperty("taskCounts").GetProperty("COMPLETED").GetInt32());
        var active = await _http.GetFromJsonAsync<JsonElement>("/v1/dagruns");
        Assert.DoesNotContain(active.EnumerateArray(), r => r.GetProperty("runID").GetInt64() == runId);

        var detail = await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/task/simple_1");
        Assert.Equal(Keys(seedTask), Keys(detail));
        Assert.Equal("COMPLETED", (await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/task/simple_1/state")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Diamond_JoinStartsOnlyAfterBothBranchesFinished()
    {
        var runId = await SubmitAsync("""
            { "tag": "diamond", "tasks": {
                "A": { "job": { "command": ["/bin/echo", "a"] }, "children": ["B", "C"] },
                "B": { "job": { "command": ["/bin/sleep", "0.3"] }, "children": ["D"] },
                "C": { "job": { "command": ["/bin/sleep", "0.1"] } },
                "D": { "job": { "command": ["/bin/echo", "d"] }, "parents": ["C"] } } }
            """);

        await WaitForRunStateAsync(runId, "COMPLETED");
        var run = await GetRunAsync(runId);
        var a = Attempt(run, "A"); var b = Attempt(run, "B"); var c = Attempt(run, "C"); var d = Attempt(run, "D");
        Assert.True(Nanos(b, "startTime") >= Nanos(a, "stopTime"));
        Assert.True(Nanos(c, "startTime") >= Nanos(a, "stopTime"));
        Assert.True(Nanos(d, "startTime") >= Nanos(b, "stopTime"), "D started before B finished");
        Assert.True(Nanos(d, "startTime") >= Nanos(c, "stopTime"), "D started before C finished");
        Assert.Equal(["B", "C"], run.GetProperty("tasks").GetProperty("D").GetProperty("parents").EnumerateArray().Select(e => e.GetString()));
    }

    // Each parent's success reads the join it last found blocked with its children; with two joins whose parents end
    // interleaved, that join is often the other one, and its blocker's state must not decide for this one.
    [Fact]
    public async Task TwoJoinsInOneRun_TheirParentsEndingInterleaved_EachStartsOnlyAfterAllOfItsOwnParents()
    {
        var parents = Enumerable.Range(0, 24).Select(i => $"\"p{i}\": {{ \"job\": {{ \"task\": \"demo.noop\" }}, \"children\": [\"{(i % 2 == 0 ? "left" : "right")}\"] }}");
        var runId = await SubmitAsync($$"""
            { "tag": "two-joins", "tasks": {
                {{string.Join(",\n", parents)}},
                "left": { "job": { "task": "demo.noop" } },
                "right": { "job": { "task": "demo.noop" } } } }
            """);

        await WaitForRunStateAsync(runId, "COMPLETED");
        var run = await GetRunAsync(runId);
        foreach (var (join, side) in new[] { ("left", 0), ("right", 1) })
        {
            var started = Nanos(Attempt(run, join), "startTime");
            foreach (var i in Enumerable.Range(0, 24).Where(i => i % 2 == side))
                Assert.True(started >= Nanos(Attempt(run, $"p{i}"), "stopTime"), $"{join} started before p{i} finished");
        }
    }

    [Fact]
    public async Task Diamond_WithABranchFailingForGood_BlocksTheJoin_EndsErrored_AndRestartRerunsOnlyWhatFailed()
    {
        var marker = Path.Combine(host.Folder, "c-failed-once-" + Guid.NewGuid().ToString("N"));
        var runId = await SubmitAsync($$"""
            { "tag": "diamond-fail", "tasks": {
                "A": { "job": { "command": ["/bin/echo", "a"] }, "children": ["B", "C"] },
                "B": { "job": { "command": ["/bin/echo", "b"] }, "children": ["D"] },
                "C": { "job": { "command": ["/bin/sh", "-c", "test -f {{marker}} || { touch {{marker}}; echo failing >&2; exit 3; }"] }, "children": ["D"] },
                "D": { "job": { "command": ["/bin/echo", "d"] } } } }
            """);

        await WaitForRunStateAsync(runId, "ERRORED");
        var run = await GetRunAsync(runId);
        Assert.Equal("ERRORED", TaskState(run, "C"));
        Assert.Equal("QUEUED", TaskState(run, "D"));
        Assert.Empty(Attempts(run, "D"));
        var failed = Assert.Single(Attempts(run, "C"));
        Assert.Equal(3, failed.GetProperty("rc").GetInt32());
        Assert.Equal("failing\n", failed.GetProperty("errorLog").GetString());
        var d = (await host.Get<IDagStore>().FindTaskAsync(runId, "D"))!;
        Assert.Equal(ExecutionState.Pending, d.State);
        Assert.Equal([d.ExecutionId], await host.Get<DagQueries>().BlockedAsync(runId));

        var restart = await _http.PatchAsync($"/v1/dagrun/{runId}/state/QUEUED", null);
        Assert.Equal(HttpStatusCode.OK, restart.StatusCode);
        Assert.Equal(runId, (await restart.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runID").GetInt64());

        await WaitForRunStateAsync(runId, "COMPLETED");
        Assert.Empty(await host.Get<DagQueries>().BlockedAsync(runId));
        run = await GetRunAsync(runId);
        Assert.Single(Attempts(run, "A"));
        Assert.Single(Attempts(run, "B"));
        Assert.Equal(2, Attempts(run, "C").Count);
        Assert.Single(Attempts(run, "D"));
        Assert.Equal(["QUEUED", "RUNNING", "ERRORED", "QUEUED", "RUNNING", "COMPLETED"],
            run.GetProperty("dagStateChanges").EnumerateArray().Select(c => c.GetProperty("state").GetString()));

        var again = await _http.PatchAsync($"/v1/dagrun/{runId}/state/QUEUED", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("""{"tasks":{"a":{"job":{"command":["/bin/echo"]},"children":["b"]},"b":{"job":{"command":["/bin/echo"]},"children":["a"]}}}""", "cycle", "a", "b")]
    [InlineData("""{"tasks":{"a":{"job":{"command":["/bin/echo"]},"parents":["nosuchparent"]}}}""", "unknown parent", "nosuchparent", "a")]
    [InlineData("""{"parameters":{"X":["1"]},"tasks":{"a":{"job":{"command":["/bin/echo","{{NOSUCHPARAM}}"]}}}}""", "not a defined parameter", "NOSUCHPARAM", "a")]
    [InlineData("""{"tasks":{"a":{"job":{"command":["/bin/echo"],"cores":"4096"}}}}""", "more than any worker node has", "4096", "a")]
    public async Task InvalidSpec_IsRejected_NamingTheCulprit_AndStoresNothing(string spec, string problem, string culprit, string task)
    {
        var validation = await PostJsonAsync("/v1/dagrun/validate", spec);
        Assert.Equal(HttpStatusCode.OK, validation.StatusCode);
        var body = await validation.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.GetProperty("valid").GetBoolean());
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray()).GetString()!;
        Assert.Contains(problem, error);
        Assert.Contains(culprit, error);
        Assert.Contains(task, error);

        var before = (await _http.GetFromJsonAsync<JsonElement>("/v1/dagruns?all=1")).GetArrayLength();
        var submit = await PostJsonAsync("/v1/dagrun", spec);
        Assert.Equal(HttpStatusCode.BadRequest, submit.StatusCode);
        Assert.Equal("application/problem+json", submit.Content.Headers.ContentType?.MediaType);
        var details = await submit.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(culprit, Assert.Single(details.GetProperty("errors").EnumerateArray()).GetString());
        Assert.Equal(before, (await _http.GetFromJsonAsync<JsonElement>("/v1/dagruns?all=1")).GetArrayLength());
    }

    [Theory]
    [InlineData("""[1, 2]""", "tasks")]
    [InlineData("""{"tag": "no tasks"}""", "tasks")]
    [InlineData("""{"tag": "empty", "tasks": {}}""", "tasks")]
    public async Task SubmissionWithoutTasks_IsABadRequest_WithProblemDetails(string body, string mentioned)
    {
        var response = await PostJsonAsync("/v1/dagrun", body);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(mentioned, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task ValidSpec_Validates()
    {
        var response = await PostJsonAsync("/v1/dagrun/validate", """{"tasks":{"a":{"job":{"task":"demo.noop"}}}}""");
        Assert.Equal("""{"valid":true}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Generator_EmittingThreeTasks_AddsThemBetweenItselfAndItsChildren()
    {
        // The generator's own command is expanded at submit too, so it writes the placeholder as <<WHO>> and tr turns it into {{WHO}}.
        var generated = """{"g1":{"job":{"command":["/bin/echo","one"]}},"g2":{"job":{"command":["/bin/echo","<<WHO>>"]}},"g3":{"job":{"task":"demo.noop"},"parents":["g1"]}}""";
        var runId = await SubmitAsync($$"""
            { "tag": "generator", "parameters": { "WHO": ["x", "y"] }, "tasks": {
                "gen": { "job": { "command": ["/bin/sh", "-c", "echo \"$1\" | tr '<>' '{}'", "sh", {{JsonSerializer.Serialize(generated)}}] },
                         "isGenerator": true, "children": ["after"] },
                "after": { "job": { "command": ["/bin/echo", "done"] } } } }
            """);

        await WaitForRunStateAsync(runId, "COMPLETED");
        var run = await GetRunAsync(runId);
        Assert.Equal(["after", "g1", "g2_0", "g2_1", "g3", "gen"], Keys(run.GetProperty("tasks")).Order());
        Assert.Equal("x\n", Attempt(run, "g2_0").GetProperty("outputLog").GetString());
        Assert.Equal("y\n", Attempt(run, "g2_1").GetProperty("outputLog").GetString());
        Assert.Equal(["g1", "gen"], Names(run, "g3", "parents"));
        Assert.Equal(["after", "g1", "g2_0", "g2_1", "g3"], Names(run, "gen", "children"));
        Assert.Equal(["g1", "g2_0", "g2_1", "g3", "gen"], Names(run, "after", "parents"));
        var after = Attempt(run, "after");
        foreach (var g in new[] { "g1", "g2_0", "g2_1", "g3" })
        {
            Assert.True(Nanos(Attempt(run, g), "startTime") >= Nanos(Attempt(run, "gen"), "stopTime"), $"{g} started before the generator finished");
            Assert.True(Nanos(after, "startTime") >= Nanos(Attempt(run, g), "stopTime"), $"after started before {g} finished");
        }
    }

    [Fact]
    public async Task Generator_EmittingGarbage_Fails_WithTheReasonInItsExecutorLog()
    {
        var runId = await SubmitAsync("""
            { "tag": "garbage", "tasks": {
                "gen": { "job": { "command": ["/bin/echo", "this is {not json"] }, "isGenerator": true, "children": ["after"] },
                "after": { "job": { "command": ["/bin/echo", "never"] } } } }
            """);

        await WaitForRunStateAsync(runId, "ERRORED");
        var run = await GetRunAsync(runId);
        Assert.Equal("ERRORED", TaskState(run, "gen"));
        var attempt = Attempt(run, "gen");
        Assert.Contains("generator output rejected: not valid JSON", attempt.GetProperty("executorLog").GetString());
        Assert.Equal(["after", "gen"], Keys(run.GetProperty("tasks")).Order());
        Assert.Empty(Attempts(run, "after"));

        var invalidTasks = await SubmitAsync("""
            { "tasks": { "gen": { "job": { "command": ["/bin/echo", "{\"bad\":{\"job\":{\"command\":[]}}}"] }, "isGenerator": true } } }
            """);
        await WaitForRunStateAsync(invalidTasks, "ERRORED");
        Assert.Contains("task 'bad': the command is empty", Attempt(await GetRunAsync(invalidTasks), "gen").GetProperty("executorLog").GetString());
    }

    [Fact]
    public async Task Kill_WhileASleepRuns_KillsItsProcess_AndTheRunEndsKilled()
    {
        var runId = await SubmitAsync("""
            { "tag": "kill", "tasks": {
                "sleeper": { "job": { "command": ["/bin/sleep", "60"] }, "children": ["after"] },
                "after": { "job": { "command": ["/bin/echo", "never"] } } } }
            """);
        var sleeper = await WaitForTaskAsync(runId, "sleeper", ExecutionState.Running);
        var pid = await WaitForPidAsync(sleeper.ExecutionId);
        Assert.True(Directory.Exists($"/proc/{pid}"), "the sleep process should be running before the kill");
        await WaitForRunStateAsync(runId, "RUNNING");

        var kill = await _http.DeleteAsync($"/v1/dagrun/{runId}");
        Assert.Equal(HttpStatusCode.OK, kill.StatusCode);
        Assert.Equal("KILLED", await RunStateAsync(runId));

        await WaitForTaskAsync(runId, "sleeper", ExecutionState.Cancelled);
        await PollAsync(() => Task.FromResult(!Directory.Exists($"/proc/{pid}")), $"process {pid} to be gone");
        var run = await GetRunAsync(runId);
        Assert.Equal("KILLED", TaskState(run, "sleeper"));
        Assert.Equal("KILLED", TaskState(run, "after"));
        Assert.Empty(Attempts(run, "after"));
        Assert.Contains($"killed pid {pid}", Attempt(run, "sleeper").GetProperty("executorLog").GetString());
        Assert.Equal("KILLED", await RunStateAsync(runId));
        Assert.Equal("KILLED", run.GetProperty("dagStateChanges").EnumerateArray().Last().GetProperty("state").GetString());
    }

    [Fact]
    public async Task Restart_OfAKilledRun_RequeuesTheKilledTask_AndSendsItsKilledChildBackToWait()
    {
        var runId = await SubmitAsync("""
            { "tag": "kill-restart", "tasks": {
                "done": { "job": { "command": ["/bin/echo", "kept"] }, "children": ["sleeper"] },
                "sleeper": { "job": { "command": ["/bin/sleep", "60"] }, "children": ["after"] },
                "after": { "job": { "command": ["/bin/echo", "never"] } } } }
            """);
        var firstSleeper = await WaitForTaskAsync(runId, "sleeper", ExecutionState.Running);
        using var sleeperEnds = new PublishedEnds(host.Get<ExecutionEvents>(), firstSleeper.ExecutionId);
        Assert.Equal(HttpStatusCode.OK, (await _http.DeleteAsync($"/v1/dagrun/{runId}")).StatusCode);
        // Published means its observers (the run's recompute among them) have run, so the history below is the settled one.
        // A restart racing that recompute is DagRestartRaceTests'.
        await PollAsync(() => Task.FromResult(sleeperEnds.Seen(ExecutionState.Cancelled)), "the sleeper's cancel to be published");
        Assert.Equal(ExecutionState.Cancelled, (await host.Get<IDagStore>().FindTaskAsync(runId, "after"))!.State);

        Assert.Equal(HttpStatusCode.OK, (await _http.PatchAsync($"/v1/dagrun/{runId}/state/QUEUED", null)).StatusCode);
        var sleeper = await WaitForTaskAsync(runId, "sleeper", ExecutionState.Running);
        Assert.Equal(2, sleeper.AttemptCount);
        Assert.Equal(ExecutionState.Pending, (await host.Get<IDagStore>().FindTaskAsync(runId, "after"))!.State);
        Assert.Equal(1, (await host.Get<IDagStore>().FindTaskAsync(runId, "done"))!.AttemptCount);
        await WaitForRunStateAsync(runId, "RUNNING");

        Assert.Equal(HttpStatusCode.OK, (await _http.PatchAsync($"/v1/dagrun/{runId}/state/KILLED", null)).StatusCode);
        await WaitForTaskAsync(runId, "sleeper", ExecutionState.Cancelled);
        var run = await GetRunAsync(runId);
        Assert.Equal(["QUEUED", "RUNNING", "KILLED", "QUEUED", "RUNNING", "KILLED"],
            run.GetProperty("dagStateChanges").EnumerateArray().Select(c => c.GetProperty("state").GetString()));
        Assert.Equal("COMPLETED", TaskState(run, "done"));
    }

    [Fact]
    public async Task FailingTask_WithRetries_HasThreeAttemptsAtLeastTheIntervalApart_ShowingRetryWhileItWaits()
    {
        var runId = await SubmitAsync("""
            { "tag": "retry", "tasks": { "flaky": { "job": { "command": ["/bin/false"] }, "maxRetries": 2, "retryIntervalSeconds": 1 } } }
            """);
        var seen = new HashSet<string>();
        await PollAsync(async () =>
        {
            seen.Add((await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/task/flaky/state")).GetProperty("state").GetString()!);
            return await RunStateAsync(runId) == "ERRORED";
        }, "the run to end ERRORED");

        Assert.Contains("RETRY", seen);
        var attempts = Attempts(await GetRunAsync(runId), "flaky");
        Assert.Equal(3, attempts.Count);
        for (var i = 1; i < attempts.Count; i++)
            Assert.True(Nanos(attempts[i], "startTime") - Nanos(attempts[i - 1], "stopTime") >= 1_000_000_000L,
                $"attempt {i + 1} started {(Nanos(attempts[i], "startTime") - Nanos(attempts[i - 1], "stopTime")) / 1e6} ms after attempt {i} stopped");
        Assert.All(attempts, a => Assert.Equal(1, a.GetProperty("rc").GetInt32()));
    }

    [Fact]
    public async Task KillTask_CancelsOnlyThatTask_AndTheRunEndsErrored()
    {
        var runId = await SubmitAsync("""
            { "tag": "kill-task", "tasks": {
                "sleeper": { "job": { "command": ["/bin/sleep", "60"] }, "children": ["after"] },
                "quick": { "job": { "command": ["/bin/echo", "q"] } },
                "after": { "job": { "command": ["/bin/echo", "never"] } } } }
            """);
        await WaitForTaskAsync(runId, "sleeper", ExecutionState.Running);
        await WaitForTaskAsync(runId, "quick", ExecutionState.Succeeded);

        Assert.Equal(HttpStatusCode.OK, (await _http.DeleteAsync($"/v1/dagrun/{runId}/task/sleeper")).StatusCode);
        await WaitForRunStateAsync(runId, "ERRORED");
        var run = await GetRunAsync(runId);
        Assert.Equal("KILLED", TaskState(run, "sleeper"));
        Assert.Equal("COMPLETED", TaskState(run, "quick"));
        Assert.Equal("QUEUED", TaskState(run, "after"));
    }

    [Fact]
    public async Task Ready_AndUnknownRunsOrTasks_AnswerAsDaggyDoes()
    {
        Assert.Equal("""{"msg":"Ya like DAGs?"}""", await _http.GetStringAsync("/ready"));

        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, "/v1/dagrun/987654"), (HttpMethod.Delete, "/v1/dagrun/987654"), (HttpMethod.Get, "/v1/dagrun/987654/state"),
            (HttpMethod.Patch, "/v1/dagrun/987654/state/QUEUED"), (HttpMethod.Get, "/v1/dagrun/987654/task/x"), (HttpMethod.Get, "/v1/dagrun/987654/task/x/state"),
        })
        {
            var response = await _http.SendAsync(new HttpRequestMessage(method, path));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("987654", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }

        var runId = await SubmitAsync("""{"tasks":{"only":{"job":{"task":"demo.noop"}}}}""");
        await WaitForRunStateAsync(runId, "COMPLETED");
        var missing = await _http.GetAsync($"/v1/dagrun/{runId}/task/ghost");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("'ghost'", (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _http.DeleteAsync($"/v1/dagrun/{runId}/task/ghost")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await _http.DeleteAsync($"/v1/dagrun/{runId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await _http.PatchAsync($"/v1/dagrun/{runId}/state/QUEUED", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _http.PatchAsync($"/v1/dagrun/{runId}/state/SIDEWAYS", null)).StatusCode);

        var handlerTask = await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/task/only");
        Assert.Equal("demo.noop", handlerTask.GetProperty("job").GetProperty("task").GetString());
        Assert.Equal(0, Attempt(await GetRunAsync(runId), "only").GetProperty("rc").GetInt32());
    }

    // ---- helpers ----

    private async Task<HttpResponseMessage> PostJsonAsync(string path, string json) =>
        await _http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private async Task<long> SubmitAsync(string spec)
    {
        var response = await PostJsonAsync("/v1/dagrun", spec);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var document = JsonDocument.Parse(body);
        Assert.Equal(["runID"], Keys(document.RootElement));
        return document.RootElement.GetProperty("runID").GetInt64();
    }

    private async Task<JsonElement> GetRunAsync(long runId) => await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}");

    private async Task<string> RunStateAsync(long runId) =>
        (await _http.GetFromJsonAsync<JsonElement>($"/v1/dagrun/{runId}/state")).GetProperty("state").GetString()!;

    private async Task WaitForRunStateAsync(long runId, string state)
    {
        string? last = null;
        await PollAsync(async () => (last = await RunStateAsync(runId)) == state, $"run {runId} to be {state}",
            async () => $"last {last}: {(await GetRunAsync(runId)).GetRawText()}");
    }

    private async Task<DagTaskRow> WaitForTaskAsync(long runId, string name, ExecutionState state)
    {
        DagTaskRow? row = null;
        await PollAsync(async () => (row = await host.Get<IDagStore>().FindTaskAsync(runId, name))?.State == state, $"task {name} to be {state}", () => Task.FromResult($"last {row?.State}"));
        return row!;
    }

    private async Task<int> WaitForPidAsync(long executionId)
    {
        var pid = 0;
        await PollAsync(async () =>
        {
            var logs = await host.Get<ExecutionQueries>().LogsAsync(executionId, null);
            var line = logs.Where(l => l.Stream == LogStream.Executor).Select(l => l.Text).FirstOrDefault(t => t.Contains("started pid "));
            if (line is null) return false;
            pid = int.Parse(line[(line.IndexOf("started pid ", StringComparison.Ordinal) + 12)..].Split(':')[0]);
            return true;
        }, "the process id in the executor log");
        return pid;
    }

    /// <summary>The states an execution was published entering (a transition is published after its observers ran).</summary>
    private sealed class PublishedEnds : IDisposable
    {
        private readonly IDisposable _subscription;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<ExecutionState, bool> _seen = new();

        public PublishedEnds(ExecutionEvents events, long executionId) =>
            _subscription = events.Subscribe(e => { if (e is StateChanged c && c.ExecutionId == executionId) _seen[c.To] = true; });

        public bool Seen(ExecutionState state) => _seen.ContainsKey(state);
        public void Dispose() => _subscription.Dispose();
    }

    private static async Task PollAsync(Func<Task<bool>> condition, string what, Func<Task<string>>? describe = null)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return;
            await Task.Delay(25);
        }
        throw new Xunit.Sdk.XunitException($"Timed out waiting for {what}. {(describe is null ? "" : await describe())}");
    }

    private static List<string> Keys(JsonElement e) => e.EnumerateObject().Select(p => p.Name).ToList();
    private static long Nanos(JsonElement attempt, string field) => long.Parse(attempt.GetProperty(field).GetString()!);
    private static string TaskState(JsonElement run, string task) => run.GetProperty("taskStates").GetProperty(task).GetString()!;
    private static List<JsonElement> Attempts(JsonElement run, string task) => run.GetProperty("taskAttempts").GetProperty(task).EnumerateArray().ToList();
    private static JsonElement Attempt(JsonElement run, string task) => Assert.Single(Attempts(run, task));
    private static List<string> Names(JsonElement run, string task, string field) =>
        run.GetProperty("tasks").GetProperty(task).GetProperty(field).EnumerateArray().Select(e => e.GetString()!).ToList();
}
