using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Schedules;

/// <summary>
/// The firing loop. It keeps every schedule's next fire time in a priority queue and sleeps until the earliest one
/// (no per-second pass over every schedule); a change on this node wakes it at once, and one cheap query a second
/// (<see cref="IScheduleStore.StampAsync"/>) notices changes made on other nodes. Each due slot goes through
/// <see cref="ScheduleFirer"/>, whose firing row makes it happen once however many nodes run this loop.
/// After downtime (every node stopped) a schedule's last fired slot is in the database: the catch-up policy decides
/// what the missed slots get.
/// </summary>
public sealed class ScheduleRunner(IScheduleStore store, ScheduleFirer firer, IOptions<TaskdeckOptions> options, [FromKeyedServices(ScheduleServices.ClockKey)] TimeProvider time, ILogger<ScheduleRunner> logger)
    : BackgroundService
{
    private static readonly TimeSpan BufferedRecheck = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RetryAfterError = TimeSpan.FromSeconds(5);
    /// <summary>Counting missed slots is only for the firing's note; past this many it says "at least".</summary>
    private const int MaxCounted = 10_000;
    private const int Parallelism = 8;

    private readonly Dictionary<long, Entry> _entries = [];
    private readonly PriorityQueue<Entry, DateTimeOffset> _queue = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private volatile bool _reload = true;
    private ScheduleStamp? _stamp;
    private long _lastPassTicks;
    private long _passes;
    private long _busyTicks;
    private long _reloads;
    private long _lastReloadTicks;

    private sealed class Entry(Schedule schedule, CronSchedule cron)
    {
        public Schedule Schedule { get; } = schedule;
        public CronSchedule Cron { get; } = cron;
        /// <summary>Slots at or before this are done (fired, skipped or dropped).</summary>
        public DateTimeOffset Anchor { get; set; }
        /// <summary>A BufferOne slot waits for the previous run to end: looked at every second until it starts.</summary>
        public bool Buffered { get; set; }
        public DateTimeOffset? RetryAt { get; set; }
        public DateTimeOffset? Due { get; set; }
    }

    /// <summary>The clock time of the last completed pass: a test waits for a pass at or after the time it set.</summary>
    public DateTimeOffset LastPassAt => new(Interlocked.Read(ref _lastPassTicks), TimeSpan.Zero);
    public long Passes => Interlocked.Read(ref _passes);

    /// <summary>Wall time spent in passes (change poll, reload, firing), not asleep: what the loop costs (the bench reads it).</summary>
    public TimeSpan BusyTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _busyTicks));
    public long Reloads => Interlocked.Read(ref _reloads);
    /// <summary>How long the last reload of every definition took.</summary>
    public TimeSpan LastReloadDuration => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _lastReloadTicks));

    /// <summary>A schedule changed on this node: reload the definitions and look again now.</summary>
    public void Changed()
    {
        _reload = true;
        Wake();
    }

    /// <summary>Look again now (without reloading): after the clock moved, for instance.</summary>
    public void Poke() => Wake();

    private void Wake()
    {
        lock (_wake)
            if (_wake.CurrentCount == 0) _wake.Release();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value.Scheduling;
        if (!o.Enabled) return;
        var poll = TimeSpan.FromMilliseconds(o.ChangePollMilliseconds);
        var nextPoll = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            var passStarted = Stopwatch.GetTimestamp();
            try
            {
                var now = time.GetUtcNow();
                if (now >= nextPoll)
                {
                    nextPoll = now + poll;
                    var stamp = await store.StampAsync(stoppingToken);
                    if (stamp != _stamp) { _stamp = stamp; _reload = true; }
                }
                if (_reload)
                {
                    _reload = false;
                    var reloadStarted = Stopwatch.GetTimestamp();
                    await ReloadAsync(now, stoppingToken);
                    Interlocked.Exchange(ref _lastReloadTicks, Stopwatch.GetTimestamp() - reloadStarted);
                    Interlocked.Increment(ref _reloads);
                }
                await FireDueAsync(now, stoppingToken);
                Interlocked.Exchange(ref _lastPassTicks, now.UtcTicks);
                Interlocked.Increment(ref _passes);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                logger.LogWarning(e, "The schedule loop failed; it reloads and tries again");
                _reload = true;
                nextPoll = time.GetUtcNow() + RetryAfterError;
            }
            Interlocked.Add(ref _busyTicks, Stopwatch.GetTimestamp() - passStarted);
            var wakeAt = nextPoll;
            while (_queue.TryPeek(out var head, out var due) && head.Due != due) _queue.Dequeue(); // superseded entries
            if (_queue.TryPeek(out _, out var next) && next < wakeAt) wakeAt = next;
            await SleepAsync(wakeAt - time.GetUtcNow(), stoppingToken);
        }
    }

    private async Task SleepAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        if (delay <= TimeSpan.Zero) return;
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var sleep = Task.Delay(delay, time, either.Token);
        var woken = _wake.WaitAsync(either.Token);
        await Task.WhenAny(sleep, woken);
        await either.CancelAsync();
        try { await Task.WhenAll(sleep, woken); } catch (OperationCanceledException) { }
    }

    private async Task ReloadAsync(DateTimeOffset now, CancellationToken ct)
    {
        var schedules = await store.ListAsync(ct);
        var buffered = new HashSet<long>();
        var previous = new Dictionary<long, Entry>(_entries);
        _entries.Clear();
        _queue.Clear();
        foreach (var s in schedules)
        {
            CronSchedule cron;
            try { cron = CronSchedule.Parse(s.Cron, s.TimeZone); }
            catch (ScheduleDefinitionException e)
            {
                // Stored definitions were valid when saved; a zone can vanish from the host's database.
                logger.LogWarning("Schedule {Name} cannot run here: {Message}", s.Name, e.Message);
                continue;
            }
            var entry = new Entry(s, cron) { Anchor = Max(s.SlotsFrom, s.LastSlot) };
            if (previous.TryGetValue(s.Id, out var old))
            {
                // This node may have dropped slots (catch-up None) that were never written: keep what it knew.
                if (old.Anchor > entry.Anchor) entry.Anchor = old.Anchor;
                entry.Buffered = old.Buffered;
                entry.RetryAt = old.RetryAt;
            }
            if (s.Overlap == OverlapPolicy.BufferOne) buffered.Add(s.Id);
            _entries[s.Id] = entry;
        }
        if (buffered.Count > 0)
            foreach (var id in buffered)
                if (_entries.TryGetValue(id, out var e) && !e.Buffered && await store.BufferedAsync(id, ct) is not null) e.Buffered = true;
        foreach (var entry in _entries.Values) Enqueue(entry, now);
    }

    private async Task FireDueAsync(DateTimeOffset now, CancellationToken ct)
    {
        var due = new List<Entry>();
        while (_queue.TryPeek(out var entry, out var at) && at <= now)
        {
            _queue.Dequeue();
            if (entry.Due == at && _entries.TryGetValue(entry.Schedule.Id, out var current) && current == entry) due.Add(entry);
        }
        if (due.Count == 0) return;
        // Side by side, so that many schedules due on the same second share the writer's group commits.
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct },
            async (entry, token) => await EvaluateAsync(entry, now, token));
        foreach (var entry in due) Enqueue(entry, now);
    }

    private void Enqueue(Entry entry, DateTimeOffset now)
    {
        entry.Due = NextDue(entry, now);
        if (entry.Due is { } due) _queue.Enqueue(entry, due);
    }

    /// <summary>When this entry next needs a look: its next slot (plus jitter), sooner while a buffered slot waits.</summary>
    private static DateTimeOffset? NextDue(Entry entry, DateTimeOffset now)
    {
        var s = entry.Schedule;
        if (!s.Enabled) return null;
        DateTimeOffset? due = null;
        var slot = s.StartAt is { } start && start > entry.Anchor
            ? entry.Cron.Expression.GetNextOccurrence(start, entry.Cron.Zone, inclusive: true)
            : entry.Cron.Next(entry.Anchor);
        if (slot is { } next && (s.EndAt is null || next <= s.EndAt)) due = next + Jitter(s, next);
        if (entry.Buffered && (due is null || due > now + BufferedRecheck)) due = now + BufferedRecheck;
        if (entry.RetryAt is { } retry && due is { } d && d < retry) due = retry;
        return due;
    }

    private async Task EvaluateAsync(Entry entry, DateTimeOffset now, CancellationToken ct)
    {
        var s = entry.Schedule;
        try
        {
            if (entry.Buffered) await StartBufferedAsync(entry, ct);
            var catchUp = options.Value.Scheduling;
            var limit = s.CatchUp == CatchUpPolicy.All ? catchUp.CatchUpCap : 1;
            var slots = new List<DateTimeOffset>(limit);
            var count = 0;
            foreach (var slot in entry.Cron.Descending(now, entry.Anchor))
            {
                if (s.EndAt is { } end && slot > end) continue;
                if (s.StartAt is { } start && slot < start) break;
                if (slot + Jitter(s, slot) > now) continue;
                if (slots.Count < limit) slots.Add(slot);
                if (++count >= MaxCounted) break;
            }
            if (slots.Count == 0) { entry.RetryAt = null; return; }

            var newest = slots[0];
            var onTime = now - (newest + Jitter(s, newest)) <= TimeSpan.FromSeconds(catchUp.MisfireGraceSeconds);
            IEnumerable<DateTimeOffset> toFire = s.CatchUp switch
            {
                CatchUpPolicy.None => onTime ? [newest] : [],
                CatchUpPolicy.Latest => [newest],
                _ => Enumerable.Reverse(slots),
            };
            var missed = onTime ? count - 1 : count;
            string? note = missed <= 0 ? null
                : $"catch-up {s.CatchUp}: {(count >= MaxCounted ? "at least " : "")}{missed} missed slot(s)" +
                  (s.CatchUp == CatchUpPolicy.All && count > slots.Count ? $", the latest {slots.Count} run (Taskdeck:Scheduling:CatchUpCap)" : "");
            foreach (var slot in toFire)
            {
                var kind = slot == newest && onTime ? FiringKind.Scheduled : FiringKind.CatchUp;
                var fired = await firer.FireAsync(s, slot, kind, note, ct);
                if (fired.Outcome == FiringOutcome.Buffered) entry.Buffered = true;
                entry.Anchor = slot;
            }
            if (newest > entry.Anchor) entry.Anchor = newest; // None drops the missed slots
            entry.RetryAt = null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Schedule {Name}: firing failed; trying again in {Delay}", s.Name, RetryAfterError);
            entry.RetryAt = now + RetryAfterError;
        }
    }

    private async Task StartBufferedAsync(Entry entry, CancellationToken ct)
    {
        var s = entry.Schedule;
        var waiting = await store.BufferedAsync(s.Id, ct);
        if (waiting is null) { entry.Buffered = false; return; }
        if ((await store.ActiveRunsAsync(s.Name, ct)).Count > 0) return;
        await firer.StartBufferedAsync(s, waiting, ct);
        entry.Buffered = false;
    }

    /// <summary>
    /// The same delay for a slot on every node (a hash of schedule and slot), under the schedule's jitter: nodes agree
    /// on when a slot is due, and many schedules on one minute spread over it.
    /// </summary>
    public static TimeSpan Jitter(Schedule s, DateTimeOffset slot)
    {
        if (s.JitterSeconds <= 0) return TimeSpan.Zero;
        var h = (ulong)s.Id * 0x9E3779B97F4A7C15UL ^ (ulong)slot.UtcTicks;
        h ^= h >> 33; h *= 0xFF51AFD7ED558CCDUL; h ^= h >> 33;
        return TimeSpan.FromMilliseconds(h % (ulong)(s.JitterSeconds * 1000));
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset? b) => b is { } v && v > a ? v : a;
}
