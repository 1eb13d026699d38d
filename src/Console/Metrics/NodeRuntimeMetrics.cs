using Prometheus;

namespace Taskdeck.Console.Metrics;

/// <summary>
/// The node's own runtime on <c>/api/metrics</c>, beside the work it runs: prometheus-net's standard process and GC families
/// (<c>process_cpu_seconds_total</c>, <c>process_working_set_bytes</c>, <c>dotnet_collection_count_total</c> …), and what
/// those leave out that an operator asks when a node slows down: how much it still compiles (a node whose JIT is busy is
/// not warm yet), how long the GC has paused it, what the GC holds committed, and how deep the thread pool's queue is —
/// under the names the runtime's own <c>System.Runtime</c> meter has in a Prometheus export, so dashboards made for .NET
/// services read them; except its thread count (<c>dotnet.thread_pool.thread.count</c>), <c>dotnet_thread_pool_threads</c>
/// here: a gauge ending in <c>_count</c> fails <c>promtool check metrics</c>, which the django-ray tests run on every scrape.
/// </summary>
/// <remarks>Every value is read at scrape time from counters the runtime keeps anyway: nothing here costs the work anything.</remarks>
public static class NodeRuntimeMetrics
{
    public static void Register(CollectorRegistry registry)
    {
        DotNetStats.Register(registry);
        var metrics = Prometheus.Metrics.WithCustomRegistry(registry);
        var compiledMethods = metrics.CreateCounter("dotnet_jit_compiled_methods_total",
            "Methods the JIT compiled since the process started, recompilations of hot methods (tiered compilation) included.");
        var compilation = metrics.CreateCounter("dotnet_jit_compilation_time_seconds_total", "Time the JIT spent compiling, on every thread.");
        var pauses = metrics.CreateCounter("dotnet_gc_pause_time_seconds_total", "Time the garbage collector held the process's threads paused.");
        var committed = metrics.CreateGauge("dotnet_gc_last_collection_memory_committed_size_bytes", "Memory the garbage collector had committed at its last collection.");
        var threads = metrics.CreateGauge("dotnet_thread_pool_threads", "Threads in the thread pool.");
        var queued = metrics.CreateGauge("dotnet_thread_pool_queue_length", "Work items queued to the thread pool and not yet started.");
        registry.AddBeforeCollectCallback(() =>
        {
            compiledMethods.IncTo(System.Runtime.JitInfo.GetCompiledMethodCount());
            compilation.IncTo(System.Runtime.JitInfo.GetCompilationTime().TotalSeconds);
            pauses.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
            committed.Set(GC.GetGCMemoryInfo().TotalCommittedBytes);
            threads.Set(ThreadPool.ThreadCount);
            queued.Set(ThreadPool.PendingWorkItemCount);
        });
    }
}
