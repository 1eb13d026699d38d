using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Taskdeck.Unit.WorkTasks;

/// <summary>
/// The real app on a temp SQLite file, with a worker token, a node of 2 cores, and work-task types bound for the tests:
/// <c>sleepy</c> → the demo.sleep handler, <c>scripted</c> → a spawned shell worker that reports over curl,
/// <c>silent</c> → a spawned worker that exits without reporting, <c>stepped</c> → a spawned worker the test moves step
/// by step (<see cref="Signal"/>). Seed types stay external.
/// </summary>
public class WorkTaskApp : WebApplicationFactory<Program>
{
    public const string Token = "worker-secret-7f3a";
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "taskdeck-worktasks-" + Guid.NewGuid().ToString("N")[..8]);

    public WorkTaskApp()
    {
        Directory.CreateDirectory(Folder);
        WriteScript("worker.sh", """
            #!/bin/sh
            set -e
            {{POST}}
            post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"executing\"}"
            echo "worker for $WORKTASK_ID is working"
            post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"completed\", \"output_location\": \"s3://output/$WORKTASK_ID.json\", \"metadata\": {\"records_processed\": 1000}}"
            """);
        // Fails as a transient OOMKilled on its first attempt, completes on the next.
        WriteScript("flaky.sh", """
            #!/bin/sh
            set -e
            {{POST}}
            post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"executing\"}"
            if [ "$WORKTASK_ATTEMPT" = "1" ]; then
              post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"failed\", \"attempt\": $WORKTASK_ATTEMPT, \"error_message\": \"pod trainer-0: OOMKilled\"}"
            else
              post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"completed\", \"attempt\": $WORKTASK_ATTEMPT, \"output_location\": \"s3://output/flaky\"}"
            fi
            """);
        // Each step waits for the test: the file start-<attempt> lets it report started, end-<attempt> holds "completed"
        // or "failed" (a transient OOMKilled, so the task is retried). The files live in Signals(worktask id).
        WriteScript("stepped.sh", """
            #!/bin/sh
            set -e
            {{POST}}
            signals="$(dirname "$0")/signals-$WORKTASK_ID"
            # Shows the test the token this attempt was given (a real worker would keep it to itself).
            printf '%s' "$WORKER_AUTH_TOKEN" > "$(dirname "$0")/token-$WORKTASK_ID-$WORKTASK_ATTEMPT.tmp"
            mv "$(dirname "$0")/token-$WORKTASK_ID-$WORKTASK_ATTEMPT.tmp" "$(dirname "$0")/token-$WORKTASK_ID-$WORKTASK_ATTEMPT"
            wait_for() { while [ ! -f "$signals/$1" ]; do sleep 0.05; done; }
            wait_for "start-$WORKTASK_ATTEMPT"
            post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"executing\", \"attempt\": $WORKTASK_ATTEMPT}"
            # progress-<attempt> (optional) makes the worker report its progress; its answer lands in progress-sent-<attempt>.
            while [ ! -f "$signals/end-$WORKTASK_ATTEMPT" ]; do
              if [ -f "$signals/progress-$WORKTASK_ATTEMPT" ] && [ ! -f "$signals/progress-sent-$WORKTASK_ATTEMPT" ]; then
                post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"executing\", \"attempt\": $WORKTASK_ATTEMPT, \"metadata\": {\"progress\": \"$(cat "$signals/progress-$WORKTASK_ATTEMPT")\"}}" > "$signals/progress.tmp"
                mv "$signals/progress.tmp" "$signals/progress-sent-$WORKTASK_ATTEMPT"
              fi
              sleep 0.05
            done
            if [ "$(cat "$signals/end-$WORKTASK_ATTEMPT")" = "failed" ]; then
              post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"failed\", \"attempt\": $WORKTASK_ATTEMPT, \"error_message\": \"pod stepped-0: OOMKilled\"}"
            else
              post "{\"worktask_id\": \"$WORKTASK_ID\", \"status\": \"completed\", \"attempt\": $WORKTASK_ATTEMPT, \"output_location\": \"s3://output/stepped\"}"
            fi
            """);
        WriteScript("hang.sh", """
            #!/bin/sh
            echo "hanging"
            sleep 60
            """);
        WriteScript("silent.sh", """
            #!/bin/sh
            echo "silent worker $WORKTASK_ID started and will never report"
            echo "something went wrong before reporting" >&2
            exit 0
            """);
    }

    /// <summary>What <c>stepped.sh</c>'s worker got back for the progress it reported on an attempt, once it has.</summary>
    public async Task<string> ProgressAnswerAsync(string workTaskId, int attempt)
    {
        var file = Path.Combine(Folder, "signals-" + workTaskId, $"progress-sent-{attempt}");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(file))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the worker of {workTaskId} did not report its progress on attempt {attempt}");
            await Task.Delay(50);
        }
        return File.ReadAllText(file);
    }

    /// <summary>Lets <c>stepped.sh</c>'s worker for <paramref name="workTaskId"/> take its next step.</summary>
    public void Signal(string workTaskId, string name, string content = "")
    {
        var folder = Directory.CreateDirectory(Path.Combine(Folder, "signals-" + workTaskId)).FullName;
        // Written beside and moved into place, so the script never reads a half-written file.
        var temp = Path.Combine(folder, name + ".tmp");
        File.WriteAllText(temp, content);
        File.Move(temp, Path.Combine(folder, name), overwrite: true);
    }

    /// <summary>How every worker script reports to the work-task API: <c>post '{json}'</c>.</summary>
    private const string PostFunction = """
        post() {
          curl -fsS -X POST "$ORCHESTRATOR_URL/api/worktasks/$WORKTASK_ID" \
            -H "Authorization: Bearer $WORKER_AUTH_TOKEN" -H "Content-Type: application/json" -d "$1"
          echo
        }
        """;

    private void WriteScript(string name, string text) =>
        File.WriteAllText(Path.Combine(Folder, name), text.Replace("{{POST}}", PostFunction).Replace("\r\n", "\n") + "\n");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:Taskdeck"] = $"Data Source={Path.Combine(Folder, "taskdeck.db")}",
            ["Taskdeck:Demo:Enabled"] = "false",
            // Acts without signing in where the worker token is not needed; tests/Unit/Auth covers who may do what.
            ["Taskdeck:Auth:Anonymous"] = "Admin",
            ["Taskdeck:Commands:Enabled"] = "true",
            ["Taskdeck:Commands:Allow:0"] = "*",
            ["Taskdeck:Node:Cores"] = "2",
            ["Taskdeck:Node:MemoryMB"] = "4096",
            ["Taskdeck:Node:Gpus"] = "0",
            ["Taskdeck:Auth:WorkerToken"] = Token,
            ["Taskdeck:WorkTasks:Types:sleepy:Handler"] = "demo.sleep",
            ["Taskdeck:WorkTasks:Types:scripted:Command:0"] = "/bin/sh",
            ["Taskdeck:WorkTasks:Types:scripted:Command:1"] = Path.Combine(Folder, "worker.sh"),
            ["Taskdeck:WorkTasks:Types:scripted:TimeoutSeconds"] = "60",
            ["Taskdeck:WorkTasks:Types:silent:Command:0"] = "/bin/sh",
            ["Taskdeck:WorkTasks:Types:silent:Command:1"] = Path.Combine(Folder, "silent.sh"),
            ["Taskdeck:WorkTasks:Types:silent:MaxRetries"] = "0",
            ["Taskdeck:WorkTasks:Types:flaky:Command:0"] = "/bin/sh",
            ["Taskdeck:WorkTasks:Types:flaky:Command:1"] = Path.Combine(Folder, "flaky.sh"),
            ["Taskdeck:WorkTasks:Types:stepped:Command:0"] = "/bin/sh",
            ["Taskdeck:WorkTasks:Types:stepped:Command:1"] = Path.Combine(Folder, "stepped.sh"),
            ["Taskdeck:WorkTasks:Types:stepped:TimeoutSeconds"] = "60",
            ["Taskdeck:WorkTasks:Types:stepped:MaxRetries"] = "1",
            ["Taskdeck:WorkTasks:Types:hang:Command:0"] = "/bin/sh",
            ["Taskdeck:WorkTasks:Types:hang:Command:1"] = Path.Combine(Folder, "hang.sh"),
            ["Taskdeck:WorkTasks:Types:hang:TimeoutSeconds"] = "1",
            ["Taskdeck:WorkTasks:Types:hang:MaxRetries"] = "0",
        };
        foreach (var (key, value) in Overrides()) settings[key] = value;
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
    }

    protected virtual IEnumerable<KeyValuePair<string, string>> Overrides() => [];

    public HttpClient Authorized()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        GC.SuppressFinalize(this);
    }
}

/// <summary>The same app on real Kestrel (port 0), so spawned workers can call it back over HTTP.</summary>
public sealed class KestrelWorkTaskApp : WorkTaskApp
{
    public KestrelWorkTaskApp()
    {
        UseKestrel(0);
        StartServer();
    }
}

public static class Api
{
    /// <summary>The seed's own submit example.</summary>
    public static JsonObject SeedSubmission(string type = "pipeline_execution") => new()
    {
        ["type"] = type,
        ["priority"] = 1,
        ["project_id"] = "proj-123",
        ["task_spec"] = new JsonObject { ["pipeline_id"] = "pipe-456", ["parameters"] = new JsonObject() },
        ["resource_requirements"] = new JsonObject { ["cpu"] = "1", ["memory"] = "2Gi", ["gpu"] = false },
        ["data_access"] = new JsonObject
        {
            ["input_datasets"] = new JsonArray("dataset-1"), ["output_location"] = "s3://output/", ["storage_credentials"] = "creds-secret",
        },
    };

    public static JsonObject Submission(string type, JsonObject taskSpec, string cpu = "1", string memory = "512Mi", int priority = 1) => new()
    {
        ["type"] = type,
        ["priority"] = priority,
        ["project_id"] = "proj-test",
        ["task_spec"] = taskSpec,
        ["resource_requirements"] = new JsonObject { ["cpu"] = cpu, ["memory"] = memory, ["gpu"] = false },
        ["data_access"] = new JsonObject { ["input_datasets"] = new JsonArray(), ["output_location"] = "s3://output/" },
    };

    public static async Task<JsonObject> SubmitAsync(HttpClient client, JsonObject body)
    {
        var response = await client.PostAsJsonAsync("/api/worktasks", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"submit: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<JsonObject> GetAsync(HttpClient client, string id)
    {
        var response = await client.GetAsync($"/api/worktasks/{id}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"get {id}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<(int Status, JsonObject Body)> ReportAsync(HttpClient client, string id, JsonObject body)
    {
        body["worktask_id"] ??= id;
        var response = await client.PostAsJsonAsync($"/api/worktasks/{id}", body);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>Polls until the task reaches one of the statuses, or fails with what it last saw.</summary>
    public static async Task<JsonObject> WaitForStatusAsync(HttpClient client, string id, TimeSpan within, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + within;
        JsonObject task;
        do
        {
            task = await GetAsync(client, id);
            if (statuses.Contains((string?)task["status"])) return task;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        Assert.Fail($"work task {id} did not reach {string.Join("/", statuses)} within {within}: {task.ToJsonString()}");
        return task;
    }

    public static string Id(JsonObject task) => (string)task["worktask_id"]!;

    public static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;
}
