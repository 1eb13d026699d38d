using System.Runtime;
using System.Runtime.InteropServices;
using Taskdeck.Data.Storage;

namespace Taskdeck.Console.Hosting;

/// <summary>
/// Gives memory back once a burst is over. A busy console (live pages, thousands of executions) grows its heap, and the GC
/// keeps what it committed until a full collection happens, which an idle process never triggers: measured, the node stood
/// at 770 MB a minute after every page had closed, whatever the GC mode. Every <see cref="CheckInterval"/> this looks at how
/// much the process allocated meanwhile; when it was quiet (less than <see cref="QuietAllocation"/>) and the GC holds
/// <see cref="Growth"/> more than after the last trim, it runs one aggressive full collection, which compacts and returns
/// the free space to the system. The same when <see cref="ClosedCircuits"/> or more console pages closed since the last
/// trim (<see cref="OpenCircuits"/>): their circuits' objects are garbage the heap's growth does not show, since they were
/// allocated long before. Never while work runs, and at most once per quiet spell. When SQLite holds
/// <see cref="SqliteGrowth"/> more than after the last trim (its writer's page cache, its pooled readers' caches), that is
/// given back too (<see cref="StorageMemory"/>: no collection needed).
/// <c>Taskdeck:Console:TrimMemoryWhenIdle</c> (default true) turns it off.
/// </summary>
public sealed class IdleMemoryTrimmer(StorageMemory storage, OpenCircuits circuits, TimeProvider time, IConfiguration configuration, ILogger<IdleMemoryTrimmer> logger) : BackgroundService
{
    public const string Setting = "Taskdeck:Console:TrimMemoryWhenIdle";
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(10);
    public const long QuietAllocation = 32L << 20;
    public const long Growth = 48L << 20;
    public const long SqliteGrowth = 16L << 20;

    /// <summary>Whether to trim now: the process allocated little since the last look and holds clearly more than after the last trim.</summary>
    public const int ClosedCircuits = 5;

    public static bool ShouldTrim(long allocatedSinceLastCheck, long committedNow, long committedAfterLastTrim, int circuitsClosedSinceLastTrim) =>
        allocatedSinceLastCheck < QuietAllocation
        && (committedNow - committedAfterLastTrim >= Growth || circuitsClosedSinceLastTrim >= ClosedCircuits);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!configuration.GetValue(Setting, true)) return;
        using var timer = new PeriodicTimer(CheckInterval, time);
        var allocated = GC.GetTotalAllocatedBytes();
        var afterTrim = Committed();
        var sqliteAfterTrim = storage.SqliteBytes;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = GC.GetTotalAllocatedBytes();
                var committed = Committed();
                var sqlite = storage.SqliteBytes;
                var quiet = now - allocated < QuietAllocation;
                if (quiet && sqlite - sqliteAfterTrim >= SqliteGrowth)
                {
                    var started = time.GetTimestamp();
                    try { await storage.ReleaseAsync(stoppingToken); }
                    catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "SQLite's memory could not be released; trying again when quiet"); }
                    TrimNativeHeap();
                    sqliteAfterTrim = storage.SqliteBytes;
                    logger.LogInformation("Quiet after a burst: SQLite gave back {Freed:N0} MB ({Before:N0} → {After:N0} MB) in {Ms:N0} ms",
                        (sqlite - sqliteAfterTrim) >> 20, sqlite >> 20, sqliteAfterTrim >> 20, time.GetElapsedTime(started).TotalMilliseconds);
                }
                var closed = circuits.ClosedSinceTrim;
                if (ShouldTrim(now - allocated, committed, afterTrim, closed))
                {
                    var started = time.GetTimestamp();
                    circuits.Trimmed();
                    GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    TrimNativeHeap();
                    afterTrim = Committed();
                    logger.LogInformation("Quiet after a burst: the GC gave back {Freed:N0} MB ({Before:N0} → {After:N0} MB committed, {Live:N0} MB live; {Open} circuits open, {Closed} closed since the last trim) in {Ms:N0} ms",
                        (committed - afterTrim) >> 20, committed >> 20, afterTrim >> 20, GC.GetGCMemoryInfo().HeapSizeBytes >> 20, circuits.Open, closed,
                        time.GetElapsedTime(started).TotalMilliseconds);
                }
                // A heap that shrank by itself (the GC's own full collections) is the new floor.
                afterTrim = Math.Min(afterTrim, committed);
                sqliteAfterTrim = Math.Min(sqliteAfterTrim, storage.SqliteBytes);
                allocated = GC.GetTotalAllocatedBytes();
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>
    /// SQLite's page caches and statements live in the C heap, whose free blocks glibc keeps in per-thread arenas: measured,
    /// RSS stayed 290 MB above the GC's committed memory after a burst. <c>malloc_trim</c> hands them back (glibc only).
    /// </summary>
    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (EntryPointNotFoundException) { } // not glibc (musl): nothing to call
        catch (DllNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    private static long Committed() => GC.GetGCMemoryInfo().TotalCommittedBytes;
}
