using Taskdeck.Core.Audit;

namespace Taskdeck.Core.Bulk;

/// <summary>What a bulk act does to each record it reaches.</summary>
public enum BulkActionKind
{
    Cancel = 0,
    Retry = 1,
    Delete = 2,
    /// <summary>Retry of everything a filter matches in a retryable state (django-ray's reset).</summary>
    Reset = 3,
    /// <summary>Every unfinished task of a DAG run cancelled (the run is KILLED before the intent is stored).</summary>
    KillDagRun = 4,
    /// <summary>Every task of a DAG run that did not succeed sent back to wait or to the queue.</summary>
    RestartDagRun = 5,
}

/// <summary>
/// An act on many records, stored before any of it is done: the answer names it at once, and whichever node holds it
/// (this one, or another after this one stopped) carries it through in batches, resuming from <see cref="LastId"/>.
/// Redoing a batch is harmless: every change is a guarded transition.
/// </summary>
public sealed class BulkAction
{
    public long Id { get; set; }
    public BulkActionKind Kind { get; set; }
    /// <summary>The run a DAG kill or restart acts on.</summary>
    public long? DagRunId { get; set; }
    /// <summary>The records named one by one (a JSON array of ids), when the act names them.</summary>
    public string? IdsJson { get; set; }
    /// <summary>The records named by a filter (<see cref="Executions.ExecutionFilter"/> as JSON), when the act has one.</summary>
    public string? FilterJson { get; set; }
    /// <summary>Who asked (Core's <see cref="Actor"/>): the state changes it makes carry this name.</summary>
    public string ActorName { get; set; } = Actor.System.Name;
    public ActorKind ActorKind { get; set; } = ActorKind.System;
    public string? ActorAddress { get; set; }
    /// <summary>Kept in each record's state history.</summary>
    public string? Reason { get; set; }
    /// <summary>How many records it was going to act on when accepted.</summary>
    public int Total { get; set; }
    public int Applied { get; set; }
    /// <summary>Records it reached that were in no state to be acted on (already ended, deleted meanwhile…).</summary>
    public int Skipped { get; set; }
    /// <summary>Which pass of a multi-pass act (a restart's wait / queue / release) it is in.</summary>
    public int Phase { get; set; }
    /// <summary>The last record id the current pass has handled.</summary>
    public long LastId { get; set; }
    /// <summary>The node carrying it out; another node takes it over once this one's lease is gone.</summary>
    public string? NodeId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }

    public Actor Actor => new(ActorName, ActorKind, ActorAddress);
    public bool Finished => FinishedAt is not null;

    /// <summary>Names the records one by one: stored distinct and in id order (the act walks them after a cursor), <see cref="Total"/> their count.</summary>
    public void SetIds(IEnumerable<long> ids)
    {
        var distinct = ids.Distinct().Order().ToList();
        IdsJson = System.Text.Json.JsonSerializer.Serialize(distinct);
        Total = distinct.Count;
    }
}

/// <summary>Where bulk acts are kept (Data implements it).</summary>
public interface IBulkActionStore
{
    Task<long> CreateAsync(BulkAction action, CancellationToken ct = default);

    Task<BulkAction?> FindAsync(long id, CancellationToken ct = default);

    /// <summary>Acts not finished that no live node holds (or that <paramref name="nodeId"/> holds): the ones to take up.</summary>
    Task<IReadOnlyList<BulkAction>> ClaimableAsync(string nodeId, DateTimeOffset leaseCutoff, CancellationToken ct = default);

    /// <summary>Takes the act for this node if no live node holds it; false when another one does (or it finished).</summary>
    Task<bool> ClaimAsync(long id, string nodeId, DateTimeOffset leaseCutoff, CancellationToken ct = default);

    /// <summary>Lets go of an act this node holds, for any node that runs work to take up.</summary>
    Task ReleaseAsync(long id, string nodeId, CancellationToken ct = default);

    /// <summary>Records how far it got (after each batch).</summary>
    Task AdvanceAsync(long id, int phase, long cursor, int applied, int skipped, DateTimeOffset at, CancellationToken ct = default);

    Task FinishAsync(long id, int applied, int skipped, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>An unfinished kill or restart of this run, if there is one.</summary>
    Task<BulkAction?> UnfinishedForRunAsync(long dagRunId, CancellationToken ct = default);
}
