using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.Console;

/// <summary>
/// The console's circuits travel uncompressed unless asked (<c>Taskdeck:Console:Circuits:CompressWebSocket</c>): compressing
/// every render batch of 50 live pages cost the node 8 % of its CPU. Checked on the real app as a process of its own with a
/// client that offers permessage-deflate, as browsers do: the node's handshake answer says whether it took it.
/// </summary>
public sealed class CircuitSocketTests
{
    private static async Task<string> AcceptedExtensionsAsync(Dictionary<string, string> settings)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-circuit-socket-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        settings["ConnectionStrings:Taskdeck"] = $"Data Source={Path.Combine(folder, "taskdeck.db")}";
        try
        {
            await using var node = await ConsoleProcess.StartAsync(settings);
            // As blazor.web.js opens a circuit: negotiate, then the socket with the connection's token.
            using var negotiate = await node.Http.PostAsync("/_blazor/negotiate?negotiateVersion=1", null);
            Assert.True(negotiate.IsSuccessStatusCode, $"negotiate: {(int)negotiate.StatusCode} {await negotiate.Content.ReadAsStringAsync()}");
            var token = (await negotiate.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("connectionToken").GetString();
            using var socket = new ClientWebSocket();
            socket.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
            socket.Options.CollectHttpResponseDetails = true;
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{node.Port}/_blazor?id={token}"), CancellationToken.None);
            Assert.Equal(101, (int)socket.HttpStatusCode);
            var extensions = socket.HttpResponseHeaders is { } headers && headers.TryGetValue("Sec-WebSocket-Extensions", out var values) ? string.Join(",", values) : "";
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            return extensions;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task ACircuitSocket_IsNotCompressed_ByDefault()
    {
        Assert.DoesNotContain("permessage-deflate", await AcceptedExtensionsAsync([]));
    }

    [Fact]
    public async Task CompressWebSocket_True_CompressesTheCircuitSocket()
    {
        Assert.Contains("permessage-deflate", await AcceptedExtensionsAsync(new() { ["Taskdeck:Console:Circuits:CompressWebSocket"] = "true" }));
    }
}
