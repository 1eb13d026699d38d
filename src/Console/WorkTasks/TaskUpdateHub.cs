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
/// <c>/ws/tasks</c>: every state change of a work task, as <c>{"event":"task_update","task":{…}}</c>, to every client, in
/// order — or the client is disconnected with a reason; it never silently misses an update. The engine's event callback
/// only copies into a bounded inbox (it must not block); one loop renders each event once, in publish order (so per task in
/// order), and hands the bytes to each client's own bounded outbox. A client <see cref="ClientBuffer"/> messages behind is
/// too slow: it is closed with <see cref="WebSocketCloseStatus.PolicyViolation"/> and the reason <c>too slow</c>, so one
/// stalled reader never holds up the engine or the other clients. If the hub itself falls behind the engine (its inbox
/// fills) or cannot render an update, every client is closed with <see cref="WebSocketCloseStatus.InternalServerError"/>:
/// they would otherwise have a gap. A client that reconnects reads current state from <c>GET /api/worktasks/{id}</c>.
/// </summary>
public sealed class TaskUpdateHub(ExecutionEvents events, IWorkTaskStore workTasks, IExecutionReader executions, Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> options,
    ILogger<TaskUpdateHub> logger) : BackgroundService
{
    /// <summary>Messages a client may lag behind before it is disconnected as too slow.</summary>
    public const int ClientBuffer = 256;
    public const string TooSlow = "too slow";
    public const string UpdatesLost = "updates were lost on the server; reconnect and read current state";
    private const int InboxSize = 10_000;
    /// <summary>How long a dropped client has to take the close frame (it may first have to read what it was sent).</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    private readonly Channel<ExecutionEvent> _inbox = Channel.CreateBounded<ExecutionEvent>(
        new BoundedChannelOptions(InboxSize) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly ConcurrentDictionary<Client, byte> _clients = new();
    private IDisposable? _subscription;
    /// <summary>
    /// The tasks whose last update this hub sent was Running, with the attempt it was, in its own (publish) order; only the
    /// render loop touches it. Bounded by the tasks running while clients listen: forgotten whenever the updates stop
    /// reaching every client.
    /// </summary>
    private readonly Dictionary<long, int> _sentRunning = [];
    private volatile bool _forgetSent;

    public int ClientCount => _clients.Count;

    /// <summary>The clients now listening (tests pick theirs).</summary>
    internal IReadOnlyList<Client> Clients => _clients.Keys.ToList();

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = events.Subscribe(OnEvent);
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        foreach (var client in _clients.Keys) Remove(client, WebSocketCloseStatus.EndpointUnavailable, "server stopping");
        await base.StopAsync(cancellationToken);
    }

    private void OnEvent(ExecutionEvent e)
    {
        if (_clients.IsEmpty || e is not (StateChanged or WorkerStartReported or WorkerProgressReported)) return;
        // Never block the engine: a full inbox means this update is lost for everyone listening, so they are told.
        if (!_inbox.Writer.TryWrite(e)) DropAll("the update inbox is full");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var e in _inbox.Reader.ReadAllAsync(stoppingToken))
            {
                // With no one listening (or everyone dropped) updates go nowhere, so what was sent says nothing any more.
                if (_clients.IsEmpty || _forgetSent)
                {
                    _sentRunning.Clear();
                    _forgetSent = false;
                    if (_clients.IsEmpty) continue;
                }
                byte[]? message;
                try { message = await RenderAsync(e, stoppingToken); }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Could not render the update of execution {Id}", e.ExecutionId);
                    DropAll("an update could not be read");
                    continue;
                }
                if (message is null) continue;
                foreach (var client in _clients.Keys)
                    if (!client.Outbox.Writer.TryWrite(message)) Remove(client, WebSocketCloseStatus.PolicyViolation, TooSlow);
            }
        }
        catch (OperationCanceledException) { }
    }

    private void DropAll(string why)
    {
        _forgetSent = true;
        var dropped = 0;
        foreach (var client in _clients.Keys)
            if (Remove(client, WebSocketCloseStatus.InternalServerError, UpdatesLost)) dropped++;
        if (dropped > 0) logger.LogWarning("Closed {Count} task-update socket(s): {Why}", dropped, why);
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
        if (e is StateChanged changed)
        {
            if (changed.To == ExecutionState.Running) _sentRunning[e.ExecutionId] = changed.AttemptNumber;
            else _sentRunning.Remove(e.ExecutionId);
        }
        else if (IsLate(record, e is WorkerStartReported started ? started.AttemptNumber : ((WorkerProgressReported)e).AttemptNumber))
        {
            return null;
        }
        // Show the state this event announced, even if the record has moved on since: each change is pushed once, in order.
        var (state, workerStarted) = e switch
        {
            StateChanged s => (s.To, s.Transition != Transition.Claim && WorkTaskShape.WorkerStarted(record)),
            // WorkerStartReported, WorkerProgressReported: the worker runs (a spawned one now reads executing), with what it reported.
            _ => (ExecutionState.Running, true),
        };
        var message = new TaskUpdateMessage("task_update", WorkTaskShape.ToDto(record, state, workerStarted, options.Value));
        return JsonSerializer.SerializeToUtf8Bytes(message);
    }

    /// <summary>
    /// A worker's start or progress is late — it would tell clients a task that ended (or is being cancelled, or runs its
    /// next attempt) is executing in the reported attempt — unless this hub's last update of the task was the Running of that
    /// attempt, or the record says that attempt runs. Every change carries its attempt, another node's too (the change feed's
    /// rows keep it), so a report of attempt 1 arriving after attempt 2's Running was sent is late. Both sources are needed:
    /// the record alone cannot tell, as this loop renders after the engine publishes, so a fast worker's start (published
    /// before its end) finds the record ended already, yet must be shown before the end; what was sent alone cannot tell
    /// either, as another node's report travels apart from the change feed (pg_notify) and may overtake the task's Running.
    /// The origin publishes only reports it took while the attempt ran; this is for the order they arrive in.
    /// </summary>
    private bool IsLate(WorkTaskRecord record, int attempt) =>
        !(_sentRunning.TryGetValue(record.Execution.Id, out var sent) && sent == attempt)
        && !(record.Execution.State == ExecutionState.Running && record.Execution.AttemptCount == attempt);

    /// <summary>Registers a listener; the endpoint drains its outbox into the socket.</summary>
    internal Client Add()
    {
        var client = new Client();
        _clients[client] = 0;
        return client;
    }

    /// <summary>Stops sending to a client and says why; false when it was already gone.</summary>
    internal bool Remove(Client client, WebSocketCloseStatus status, string reason)
    {
        if (!_clients.TryRemove(client, out _)) return false;
        client.Drop(status, reason);
        if (status != WebSocketCloseStatus.NormalClosure) logger.LogInformation("Task-update socket closed: {Reason}", reason);
        return true;
    }

    /// <summary>The <c>/ws/tasks</c> endpoint.</summary>
    public static async Task<IResult> AcceptAsync(HttpContext http, TaskUpdateHub hub)
    {
        if (!http.WebSockets.IsWebSocketRequest)
            return Problems.BadRequest("Upgrade", "This is a WebSocket endpoint: connect with ws:// (Upgrade: websocket).");
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var client = hub.Add();
        // Cancelling a pending send or receive aborts a WebSocket, and an aborted one cannot say why it closes: only the
        // connection going away, or the client closing, cancels them. A drop just stops the loop between messages.
        using var gone = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var receiving = ReceiveUntilClosedAsync(socket, gone);
        try
        {
            var outbox = client.Outbox.Reader;
            while (client.CloseStatus is null && await outbox.WaitToReadAsync(gone.Token))
                while (client.CloseStatus is null && outbox.TryRead(out var message))
                    await socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, gone.Token);
        }
        catch (OperationCanceledException) { }
        catch (WebSocketException) { }
        finally
        {
            hub.Remove(client, WebSocketCloseStatus.NormalClosure, "closing");
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                try
                {
                    using var closing = new CancellationTokenSource(CloseTimeout);
                    await socket.CloseOutputAsync(client.CloseStatus ?? WebSocketCloseStatus.NormalClosure, client.CloseReason ?? "closing", closing.Token);
                }
                catch (Exception) { socket.Abort(); }
            }
            // Wait for the client's answer to our close (or its own close) before the connection goes.
            if (await Task.WhenAny(receiving, Task.Delay(CloseTimeout)) != receiving) socket.Abort();
            await gone.CancelAsync();
            await receiving;
        }
        return Results.Empty;
    }

    /// <summary>Clients only listen; reading is how a close from their side is noticed.</summary>
    private static async Task ReceiveUntilClosedAsync(WebSocket socket, CancellationTokenSource gone)
    {
        var buffer = new byte[1024];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, gone.Token);
                if (read.MessageType == WebSocketMessageType.Close) break;
            }
        }
        catch (OperationCanceledException) { return; }
        catch (WebSocketException) { }
        catch (ObjectDisposedException) { }
        await gone.CancelAsync();
    }

    internal sealed class Client
    {
        public Channel<byte[]> Outbox { get; } = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(ClientBuffer) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        /// <summary>Set once the hub stopped sending to this client: how its socket is closed.</summary>
        public WebSocketCloseStatus? CloseStatus { get; private set; }
        public string? CloseReason { get; private set; }

        public void Drop(WebSocketCloseStatus status, string reason)
        {
            CloseReason = reason;
            CloseStatus = status;
            Outbox.Writer.TryComplete();
        }
    }
}
