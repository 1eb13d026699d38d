using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Taskdeck.Console.Api;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.WorkTasks;

/// <summary>
/// <c>/ws/tasks</c>: every state change of a work task, as <c>{"event":"task_update","task":{…}}</c>, to every client.
/// The engine's event callback only copies into a bounded inbox (it must not block); one loop renders each event once,
/// in publish order (so per task in order), and hands the bytes to each client's own bounded outbox. A client whose
/// outbox is full is too slow: it is dropped, so one stalled browser never holds up the engine or the other clients.
/// </summary>
public sealed class TaskUpdateHub(ExecutionEvents events, IWorkTaskStore workTasks, IExecutionStore executions, ILogger<TaskUpdateHub> logger) : BackgroundService
{
    /// <summary>Messages a client may lag behind before it is dropped.</summary>
    public const int ClientBuffer = 256;
    private const int InboxSize = 10_000;

    private readonly Channel<ExecutionEvent> _inbox = Channel.CreateBounded<ExecutionEvent>(
        new BoundedChannelOptions(InboxSize) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });
    private readonly ConcurrentDictionary<Client, byte> _clients = new();
    private IDisposable? _subscription;

    public int ClientCount => _clients.Count;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = events.Subscribe(OnEvent);
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        foreach (var client in _clients.Keys) client.Drop(slow: false);
        await base.StopAsync(cancellationToken);
    }

    private void OnEvent(ExecutionEvent e)
    {
        if (_clients.IsEmpty) return;
        if (e is StateChanged or WorkerStartReported) _inbox.Writer.TryWrite(e);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var e in _inbox.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    if (_clients.IsEmpty || await RenderAsync(e, stoppingToken) is not { } message) continue;
                    foreach (var client in _clients.Keys)
                        if (!client.Outbox.Writer.TryWrite(message)) Remove(client, "too slow");
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Could not push the update of execution {Id}", e.ExecutionId);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task<byte[]?> RenderAsync(ExecutionEvent e, CancellationToken ct)
    {
        var record = await workTasks.FindByExecutionAsync(e.ExecutionId, ct);
        if (record is null && e is StateChanged { Transition: Transition.Submit })
        {
            // The work-task row is written just after its execution (before any job exists): wait for it briefly.
            var execution = await executions.FindAsync(e.ExecutionId, ct);
            if (execution is null || !execution.Tags.Contains(WorkTaskService.Tag)) return null;
            for (var i = 0; i < 40 && record is null; i++)
            {
                await Task.Delay(25, ct);
                record = await workTasks.FindByExecutionAsync(e.ExecutionId, ct);
            }
        }
        if (record is null) return null;
        // Show the state this event announced, even if the record has moved on since: each change is pushed once, in order.
        var (state, workerStarted) = e switch
        {
            StateChanged s => (s.To, s.Transition != Transition.Claim && WorkTaskShape.WorkerStarted(record)),
            _ => (ExecutionState.Running, true), // WorkerStartReported: the spawned worker runs, and now reads executing
        };
        var message = new TaskUpdateMessage("task_update", WorkTaskShape.ToDto(record, state, workerStarted));
        return JsonSerializer.SerializeToUtf8Bytes(message);
    }

    /// <summary>Registers a listener; the endpoint drains its outbox into the socket.</summary>
    internal Client Add()
    {
        var client = new Client();
        _clients[client] = 0;
        return client;
    }

    internal void Remove(Client client, string why)
    {
        if (!_clients.TryRemove(client, out _)) return;
        client.Drop(slow: why != "closed");
        if (why != "closed") logger.LogInformation("WebSocket client dropped: {Why}", why);
    }

    /// <summary>The <c>/ws/tasks</c> endpoint.</summary>
    public static async Task<IResult> AcceptAsync(HttpContext http, TaskUpdateHub hub)
    {
        if (!http.WebSockets.IsWebSocketRequest)
            return Problems.BadRequest("Upgrade", "This is a WebSocket endpoint: connect with ws:// (Upgrade: websocket).");
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var client = hub.Add();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, client.Dropped.Token);
        var receiving = ReceiveUntilClosedAsync(socket, stop);
        try
        {
            await foreach (var message in client.Outbox.Reader.ReadAllAsync(stop.Token))
                await socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, stop.Token);
        }
        catch (OperationCanceledException) { }
        catch (WebSocketException) { }
        finally
        {
            hub.Remove(client, "closed");
            await stop.CancelAsync();
            await receiving;
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                var reason = client.WasDropped ? "too slow: messages were not read in time" : "closing";
                try
                {
                    using var closeTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await socket.CloseOutputAsync(client.WasDropped ? WebSocketCloseStatus.PolicyViolation : WebSocketCloseStatus.NormalClosure, reason, closeTimeout.Token);
                }
                catch (Exception) { socket.Abort(); }
            }
        }
        return Results.Empty;
    }

    /// <summary>Clients only listen; reading is how a close from their side is noticed.</summary>
    private static async Task ReceiveUntilClosedAsync(WebSocket socket, CancellationTokenSource stop)
    {
        var buffer = new byte[1024];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var read = await socket.ReceiveAsync(buffer, stop.Token);
                if (read.MessageType == WebSocketMessageType.Close) break;
            }
        }
        catch (OperationCanceledException) { return; }
        catch (WebSocketException) { }
        await stop.CancelAsync();
    }

    internal sealed class Client
    {
        public Channel<byte[]> Outbox { get; } = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(ClientBuffer) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        public CancellationTokenSource Dropped { get; } = new();
        public bool WasDropped { get; private set; }

        public void Drop(bool slow)
        {
            if (slow) WasDropped = true;
            Outbox.Writer.TryComplete();
            try { Dropped.Cancel(); } catch (ObjectDisposedException) { }
        }
    }
}
