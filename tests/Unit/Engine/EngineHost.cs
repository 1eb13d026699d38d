using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Executions;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// Hangfire keeps process-wide statics (JobStorage.Current, its log provider), so every test that starts the app
/// joins this one collection: one host for all of them, and no other host-starting collection runs beside it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EngineCollection : ICollectionFixture<EngineHost>
{
    public const string Name = "Engine host";
}

/// <summary>
/// The real app (the Console's Program) on a temp SQLite file with real Hangfire workers, plus a few test handlers
/// whose side effects the tests can count.
/// </summary>
public sealed class EngineHost : WebApplicationFactory<Program>
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "taskdeck-engine-" + Guid.NewGuid().ToString("N")[..8]);
    public string DatabasePath => Path.Combine(Folder, "taskdeck.db");

    /// <summary>How many times a <c>test.count</c> handler body ran, per execution.</summary>
    public ConcurrentDictionary<long, int> Runs { get; } = new();

    /// <summary>Every job the dispatcher made, in order: (queue, the execution ids it carries, job id).</summary>
    public ConcurrentQueue<(string Queue, long[] Ids, string JobId)> Jobs { get; } = new();

    /// <summary>A failure the transport throws instead of making a chosen record's job (StateEffectTests).</summary>
    public TransportFaults Faults { get; } = new();

    /// <summary>How many times a job's state was read from Hangfire's storage, per job id (the reconciler's passes).</summary>
    public ConcurrentDictionary<string, int> JobStateReads { get; } = new();

    /// <summary>What happens, per job id, just before the reconciler reads that job's state (what a worker did meanwhile).</summary>
    public ConcurrentDictionary<string, Action> BeforeJobStateRead { get; } = new();

    /// <summary>
    /// Executions the lease keeper's cancel watch (<see cref="RunningWork.SignalRequestedCancelsAsync"/>) is not told are
    /// Cancelling, so a test sees what the transition itself signalled (StateEffectTests); empty, the store is as it is.
    /// </summary>
    public ConcurrentDictionary<long, byte> HiddenFromCancelWatch { get; } = new();

    /// <summary>Gates that <c>test.gate</c> waits on (with the attempt's token) and <c>test.hold</c> waits on (without), per execution.</summary>
    public ConcurrentDictionary<long, TaskCompletionSource> Gates { get; } = new();

    /// <summary>Seams that hold a DAG run's bookkeeping at chosen points (DagRestartRaceTests); inert unless a test holds a run.</summary>
    public Dags.DagSeams DagSeams { get; } = new();

    public EngineHost() => Directory.CreateDirectory(Folder);

    /// <summary>Every line the server logs (SecretTests shows a secret never reaches one).</summary>
    public Infrastructure.LogCapture ServerLogs { get; } = new();

    /// <summary>The configured value of the secret <c>TEST_SECRET</c>.</summary>
    public const string SecretValue = "resolved-4f1c9a";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // Production, as deployed: error handling must not lean on Development-only behaviour.
        builder.UseEnvironment("Production");
        builder.UseSetting("ConnectionStrings:Taskdeck", $"Data Source={DatabasePath}");
        builder.UseSetting("Taskdeck:Demo:Enabled", "false");
        // The engine tests act without signing in; tests/Unit/Auth covers who may do what.
        builder.UseSetting("Taskdeck:Auth:Anonymous", "Admin");
        builder.UseSetting("Taskdeck:Commands:Enabled", "true");
        builder.UseSetting("Taskdeck:Commands:Allow:0", "*");
        // Tests name working directories under the temp folder (the default allows none: each attempt gets its own).
        builder.UseSetting("Taskdeck:Commands:WorkingDirectories:0", Path.GetTempPath());
        builder.UseSetting("Taskdeck:Leases:HeartbeatSeconds", "1");
        builder.UseSetting("Taskdeck:Leases:ExpirySeconds", "5");
        // One GPU, so a test can round-trip a record that asks for one (admission refuses work no node can take).
        builder.UseSetting("Taskdeck:Node:Gpus", "1");
        // What {{secret:TEST_SECRET}} resolves to when a process starts (SecretTests).
        builder.UseSetting("Taskdeck:Secrets:Values:TEST_SECRET", SecretValue);
        // A foreign page allowed to use the API and the socket (CrossSiteTests).
        builder.UseSetting("Taskdeck:Auth:AllowedOrigins:0", "https://platform.example.com");
        builder.ConfigureTestServices(services =>
        {
            // The real Hangfire transport, with each job it makes written down (BatchDispatchTests).
            services.AddSingleton<Taskdeck.Core.Dispatch.HangfireQueue.HangfireTransport>();
            services.AddSingleton<Taskdeck.Core.Dispatch.IExecutionTransport>(sp =>
                new RecordingTransport(sp.GetRequiredService<Taskdeck.Core.Dispatch.HangfireQueue.HangfireTransport>(), Jobs, Faults,
                    ids => sp.GetRequiredService<IExecutionReader>().FindManyAsync(ids).GetAwaiter().GetResult(), JobStateReads, BeforeJobStateRead));
            // The real store's leases, seen through a seam that can hide chosen records from the cancel watch.
            services.AddSingleton<INodeLeaseStore>(sp => new CancelWatchSeam(sp.GetRequiredService<ExecutionStore>(), HiddenFromCancelWatch));
            services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(ServerLogs);
            DagSeams.Register(services);
            services.AddTaskHandler("test.count", context =>
            {
                Runs.AddOrUpdate(context.ExecutionId, 1, (_, n) => n + 1);
                return Task.FromResult<object?>(null);
            });
            services.AddTaskHandler("test.gate", async context =>
            {
                var gate = Gates.GetOrAdd(context.ExecutionId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                await gate.Task.WaitAsync(context.CancellationToken);
                return "released";
            });
            // As test.gate, deaf to a cancel: its attempt stays registered until the test opens the gate (StateEffectTests).
            services.AddTaskHandler("test.hold", async context =>
            {
                await Gates.GetOrAdd(context.ExecutionId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                return "released";
            });
        });
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();
    public ExecutionService Executions => Get<ExecutionService>();
    public ExecutionQueries Queries => Get<ExecutionQueries>();

    /// <summary>Polls the record until the condition holds; fails with the record's last state past the deadline.</summary>
    public async Task<ExecutionDetail> WaitForAsync(long id, Func<ExecutionDetail, bool> condition, TimeSpan? deadline = null, string? what = null)
    {
        var until = DateTime.UtcNow + (deadline ?? TimeSpan.FromSeconds(20));
        ExecutionDetail? last = null;
        while (DateTime.UtcNow < until)
        {
            last = await Queries.GetDetailAsync(id);
            if (last is not null && condition(last)) return last;
            await Task.Delay(25);
        }
        throw new Xunit.Sdk.XunitException($"Execution {id}: {what ?? "condition"} not reached in time; last state {last?.Execution.State}, attempts {last?.Attempts.Count}.");
    }

    /// <summary>
    /// A record stored Queued without its job, as a node that died between the two leaves it (entering Queued by a
    /// transition would give it one): only what the test does runs it.
    /// </summary>
    public async Task<long> QueuedWithoutJobAsync(string handler, double cores = 0)
    {
        var spec = new NewExecution { Kind = ExecutorKind.Handler, Name = handler, TaskId = Guid.NewGuid().ToString(), Cores = cores };
        return Assert.Single(await Get<ExecutionStore>().InsertAsync([(spec, ExecutionState.Queued)], DateTimeOffset.UtcNow, Get<Taskdeck.Core.Workers.NodeIdentity>().Id));
    }

    public Task<ExecutionDetail> WaitForStateAsync(long id, ExecutionState state, TimeSpan? deadline = null) =>
        WaitForAsync(id, d => d.Execution.State == state, deadline, $"state {state}");

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Passes everything to the real transport and writes down the jobs it enqueues (or the failure it was told to throw).</summary>
public sealed class RecordingTransport(Taskdeck.Core.Dispatch.IExecutionTransport inner, ConcurrentQueue<(string, long[], string)> jobs, TransportFaults faults,
    Func<IReadOnlyList<long>, IReadOnlyList<Execution>> read, ConcurrentDictionary<string, int> stateReads, ConcurrentDictionary<string, Action> beforeStateRead)
    : Taskdeck.Core.Dispatch.IExecutionTransport
{
    public string Enqueue(string queue, IReadOnlyList<long> executionIds)
    {
        faults.ThrowIfArmed(executionIds, read);
        var id = inner.Enqueue(queue, executionIds);
        jobs.Enqueue((queue, executionIds.ToArray(), id));
        return id;
    }

    public string Schedule(long executionId, string queue, DateTimeOffset runAt) => inner.Schedule(executionId, queue, runAt);
    public void Remove(string jobId) => inner.Remove(jobId);
    public bool Wake(string jobId, string queue) => inner.Wake(jobId, queue);
    public Taskdeck.Core.Dispatch.IJobStates ReadJobStates() => new CountedJobStates(inner.ReadJobStates(), stateReads, beforeStateRead);
    public bool IsUnavailable(Exception failure) => inner.IsUnavailable(failure);
    public int ClusterWorkers => inner.ClusterWorkers;
}

internal sealed class CountedJobStates(Taskdeck.Core.Dispatch.IJobStates inner, ConcurrentDictionary<string, int> reads, ConcurrentDictionary<string, Action> before)
    : Taskdeck.Core.Dispatch.IJobStates
{
    public (Taskdeck.Core.Dispatch.JobWhereabouts Where, string? Server) Find(string jobId)
    {
        reads.AddOrUpdate(jobId, 1, (_, n) => n + 1);
        if (before.TryRemove(jobId, out var meanwhile)) meanwhile();
        return inner.Find(jobId);
    }

    public void Dispose() => inner.Dispose();
}

/// <summary>
/// One failure, armed by a test for the records carrying its tag, that the first enqueue of such a record throws instead
/// of making its job: no other work's enqueue (a backlog, the reconciler, a DAG's release) can take it. The ids it refused
/// are kept.
/// </summary>
public sealed class TransportFaults
{
    private (string Tag, Exception Failure)? _armed;
    private readonly Lock _lock = new();

    public ConcurrentQueue<long[]> Refused { get; } = new();

    public void FailFirstEnqueueTagged(string tag, Exception failure)
    {
        lock (_lock) _armed = (tag, failure);
    }

    public void Disarm()
    {
        lock (_lock) _armed = null;
    }

    internal void ThrowIfArmed(IReadOnlyList<long> executionIds, Func<IReadOnlyList<long>, IReadOnlyList<Execution>> read)
    {
        string tag;
        lock (_lock)
        {
            if (_armed is not { } armed) return;
            tag = armed.Tag;
        }
        if (!read(executionIds).Any(e => e.Tags.Contains(tag))) return;
        Exception failure;
        lock (_lock)
        {
            if (_armed is not { } armed || armed.Tag != tag) return;
            failure = armed.Failure;
            _armed = null;
        }
        Refused.Enqueue(executionIds.ToArray());
        throw failure;
    }
}

/// <summary>Passes every call to the real store, but leaves the hidden records out of what the cancel watch reads.</summary>
public sealed class CancelWatchSeam(INodeLeaseStore inner, ConcurrentDictionary<long, byte> hidden) : INodeLeaseStore
{
    public async Task<IReadOnlyList<long>> FindCancellingOnNodeAsync(string nodeId, CancellationToken ct = default) =>
        (await inner.FindCancellingOnNodeAsync(nodeId, ct)).Where(id => !hidden.ContainsKey(id)).ToList();

    public Task HeartbeatAsync(WorkerNode node, CancellationToken ct = default) => inner.HeartbeatAsync(node, ct);

    public Task<IReadOnlyList<WorkerNode>> ListNodesAsync(CancellationToken ct = default) => inner.ListNodesAsync(ct);

    public Task<IReadOnlyList<(long Id, ExecutionState State, int Attempt)>> FindOnDeadNodesAsync(DateTimeOffset leaseCutoff, CancellationToken ct = default) =>
        inner.FindOnDeadNodesAsync(leaseCutoff, ct);

    public Task<IReadOnlyList<(long Id, ExecutionState State, int Attempt)>> FindActiveOnNodeAsync(string nodeId, DateTimeOffset claimedBefore, CancellationToken ct = default) =>
        inner.FindActiveOnNodeAsync(nodeId, claimedBefore, ct);
}
