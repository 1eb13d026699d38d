using System.Text;
using System.Text.Json;
using Taskdeck.Core.Events;

namespace Taskdeck.Data.Changes;

/// <summary>
/// The events another node hears of by notify rather than from the change feed, as the notify's payload: the sending
/// node, the kind, and the event's fields. A payload is limited to 8000 bytes: a long progress message is cut to fit.
/// </summary>
internal static class NodeEventPayload
{
    /// <summary>The channel they travel on (lower case: LISTEN folds an unquoted name).</summary>
    public const string Channel = "taskdeck_events";
    private const int MaxBytes = 7900;
    private const string Progress = "progress", Started = "started", WorkerProgress = "worker-progress";

    private sealed record Wire(string Node, string Kind, long Id, long At, int? Attempt = null, double? Progress = null, string? Message = null);

    /// <summary>Null for an event that other nodes learn of from the change feed.</summary>
    public static string? Encode(ExecutionEvent e, string nodeId)
    {
        var at = e.At.ToUnixTimeMilliseconds();
        var wire = e switch
        {
            ProgressChanged p => new Wire(nodeId, Progress, p.ExecutionId, at, Progress: p.Progress, Message: p.Message),
            WorkerStartReported s => new Wire(nodeId, Started, s.ExecutionId, at, Attempt: s.AttemptNumber),
            WorkerProgressReported w => new Wire(nodeId, WorkerProgress, w.ExecutionId, at, Attempt: w.AttemptNumber),
            _ => null,
        };
        if (wire is null) return null;
        var json = JsonSerializer.Serialize(wire);
        while (Encoding.UTF8.GetByteCount(json) > MaxBytes && wire.Message is { Length: > 0 } message)
        {
            wire = wire with { Message = message[..(message.Length / 2)] };
            json = JsonSerializer.Serialize(wire);
        }
        return json;
    }

    /// <summary>The sending node and the event; null for a payload this version does not know.</summary>
    public static (string NodeId, ExecutionEvent Event)? Decode(string payload)
    {
        Wire? wire;
        try { wire = JsonSerializer.Deserialize<Wire>(payload); }
        catch (JsonException) { return null; }
        if (wire is null) return null;
        var at = DateTimeOffset.FromUnixTimeMilliseconds(wire.At);
        ExecutionEvent? e = wire.Kind switch
        {
            Progress => new ProgressChanged(wire.Id, at, wire.Progress, wire.Message),
            Started when wire.Attempt is { } attempt => new WorkerStartReported(wire.Id, at, attempt),
            WorkerProgress when wire.Attempt is { } attempt => new WorkerProgressReported(wire.Id, at, attempt),
            _ => null,
        };
        return e is null ? null : (wire.Node, e);
    }
}
