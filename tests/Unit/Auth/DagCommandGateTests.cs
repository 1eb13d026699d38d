using System.Net;
using System.Text.Json.Nodes;
using Taskdeck.Core.Access;

namespace Taskdeck.Unit.Auth;

/// <summary>
/// Running a process needs the <c>commands</c> scope however a DAG asks for it: a command task in the spec (refused at the
/// door, naming the task), or one a generator adds at run time — a handler that echoes its arguments
/// (<c>demo.echo</c>) made a generator of anything a submit-only token wanted. The run keeps whether its submitter
/// could start a process, and the generator's output is held to it.
/// </summary>
[Collection(AuthCollection.Name)]
public sealed class DagCommandGateTests(AuthHost host)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private static JsonObject SpecWithCommand() => new()
    {
        ["tag"] = "gate",
        ["tasks"] = new JsonObject
        {
            ["fetch"] = new JsonObject { ["job"] = new JsonObject { ["task"] = "demo.noop" }, ["children"] = new JsonArray("run-it") },
            ["run-it"] = new JsonObject { ["job"] = new JsonObject { ["command"] = new JsonArray("/bin/true") } },
        },
    };

    /// <summary>A handler generator whose output is a command task.</summary>
    private static JsonObject SpecWithSneakyGenerator()
    {
        var output = new JsonObject { ["sneak"] = new JsonObject { ["job"] = new JsonObject { ["command"] = new JsonArray("/bin/true") } } };
        return new JsonObject
        {
            ["tag"] = "gate-generator",
            ["tasks"] = new JsonObject
            {
                ["gen"] = new JsonObject
                {
                    ["job"] = new JsonObject { ["task"] = "demo.echo", ["args"] = new JsonObject { ["lines"] = new JsonArray(output.ToJsonString()) } },
                    ["isGenerator"] = true,
                },
            },
        };
    }

    [Fact]
    public async Task Dag_WithACommandTask_FromASubmitOnlyToken_Is403NamingTheTask_AndStoresNothing_WithCommands_IsAccepted()
    {
        var submitOnly = host.Bearer(await host.TokenAsync(AccessScopes.Read, AccessScopes.Submit));
        var before = (await RunsAsync(submitOnly)).Count;

        var problem = await AuthHost.ProblemAsync(await submitOnly.PostAsync("/v1/dagrun", AuthHost.Json(SpecWithCommand())), HttpStatusCode.Forbidden, "submit-only DAG with a command");
        Assert.Equal("run-it", (string?)problem["task"]);
        Assert.Equal("tasks", (string?)problem["field"]);
        Assert.Contains("'run-it'", (string)problem["detail"]!);
        Assert.Contains("commands", (string)problem["detail"]!);
        Assert.Equal(before, (await RunsAsync(submitOnly)).Count);

        var withCommands = host.Bearer(await host.TokenAsync(AccessScopes.Read, AccessScopes.Submit, AccessScopes.Commands));
        var accepted = await withCommands.PostAsync("/v1/dagrun", AuthHost.Json(SpecWithCommand()));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var runId = JsonNode.Parse(await accepted.Content.ReadAsStringAsync())!["runID"]!.GetValue<long>();
        var run = await WaitForRunAsync(withCommands, runId, "COMPLETED");
        Assert.Equal("COMPLETED", (string?)run["taskStates"]!["run-it"]);
    }

    [Fact]
    public async Task HandlerGenerator_AddingACommand_ToARunSubmittedWithoutCommands_FailsNamingTheTask_AndStartsNoProcess()
    {
        var submitOnly = host.Bearer(await host.TokenAsync(AccessScopes.Read, AccessScopes.Submit));
        var response = await submitOnly.PostAsync("/v1/dagrun", AuthHost.Json(SpecWithSneakyGenerator()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var runId = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["runID"]!.GetValue<long>();

        var run = await WaitForRunAsync(submitOnly, runId, "ERRORED");
        Assert.Equal(["gen"], run["taskStates"]!.AsObject().Select(p => p.Key));
        Assert.Equal("ERRORED", (string?)run["taskStates"]!["gen"]);
        var executorLog = (string?)run["taskAttempts"]!["gen"]!.AsArray().Last()!["executorLog"];
        Assert.Contains("task 'sneak' runs a command", executorLog);
        Assert.Contains("'commands' scope", executorLog);
    }

    [Fact]
    public async Task HandlerGenerator_AddingACommand_ToARunSubmittedWithCommands_RunsIt()
    {
        var withCommands = host.Bearer(await host.TokenAsync(AccessScopes.Read, AccessScopes.Submit, AccessScopes.Commands));
        var response = await withCommands.PostAsync("/v1/dagrun", AuthHost.Json(SpecWithSneakyGenerator()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var runId = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["runID"]!.GetValue<long>();

        var run = await WaitForRunAsync(withCommands, runId, "COMPLETED");
        Assert.Equal("COMPLETED", (string?)run["taskStates"]!["gen"]);
        Assert.Equal("COMPLETED", (string?)run["taskStates"]!["sneak"]);
    }

    private static async Task<JsonArray> RunsAsync(HttpClient client) =>
        JsonNode.Parse(await client.GetStringAsync("/v1/dagruns?all=1"))!.AsArray();

    private static async Task<JsonObject> WaitForRunAsync(HttpClient client, long runId, string state)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var now = (string?)JsonNode.Parse(await client.GetStringAsync($"/v1/dagrun/{runId}/state"))!["state"];
            if (now == state) return JsonNode.Parse(await client.GetStringAsync($"/v1/dagrun/{runId}"))!.AsObject();
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"DAG run {runId} never reached {state}; last: {await client.GetStringAsync($"/v1/dagrun/{runId}")}");
            await Task.Delay(100);
        }
    }
}
