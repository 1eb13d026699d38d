using Taskdeck.Core.Audit;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Taskdeck.Core;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Workers;
using Microsoft.Extensions.Options;
using static Taskdeck.Core.Executions.ExecutionState;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// Commands that leave children behind can still be stopped: every way an attempt ends takes its whole process group
/// (and a daemon that left the group) with it, and the attempt never waits on a pipe a stray child keeps open.
/// Every command here would run 300 s if anything were missed.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class ProcessGroupTests : IDisposable
{
    private readonly EngineHost _host;
    private readonly ConcurrentDictionary<long, int> _leaders = new();
    private readonly TimeSpan _grace;

    public ProcessGroupTests(EngineHost host)
    {
        _host = host;
        _host.Get<CommandRunner>().ProcessStarted += OnStarted;
        _grace = TimeSpan.FromSeconds(host.Get<IOptions<TaskdeckOptions>>().Value.Commands.KillGraceSeconds);
    }

    private void OnStarted(long id, int pid) => _leaders[id] = pid;

    /// <summary>The bar: Cancelled (or TimedOut…) within 2 s plus the kill grace.</summary>
    private TimeSpan StopDeadline => TimeSpan.FromSeconds(2) + _grace;

    private const string TwoSleeps = "/bin/sleep 300 & /bin/sleep 300";

    [Fact]
    public async Task Cancel_OfShellWithABackgroundChild_StopsTheWholeGroup_AndEndsCancelled()
    {
        var e = await _host.Executions.SubmitAsync(Shell(TwoSleeps));
        var leader = await GroupOfAtLeastAsync(e.Id, 2);

        var stopwatch = Stopwatch.StartNew();
        Assert.True((await _host.Executions.CancelAsync(e.Id, Actor.System)).Done);
        var done = await _host.WaitForStateAsync(e.Id, Cancelled, StopDeadline);

        Assert.True(stopwatch.Elapsed < StopDeadline, $"took {stopwatch.Elapsed}");
        Assert.Empty(LiveGroup(leader));
        Assert.Equal(Cancelled, Assert.Single(done.Attempts).Outcome);
    }

    [Fact]
    public async Task Timeout_OfShellWithABackgroundChild_StopsTheWholeGroup_AndEndsTimedOut()
    {
        var e = await _host.Executions.SubmitAsync(Shell(TwoSleeps) with { TimeoutSeconds = 1 });
        var leader = await GroupOfAtLeastAsync(e.Id, 2);

        await _host.WaitForStateAsync(e.Id, TimedOut, TimeSpan.FromSeconds(1) + StopDeadline + TimeSpan.FromSeconds(5));

        Assert.Empty(LiveGroup(leader));
    }

    [Fact]
    public async Task DagKill_OfATaskWithABackgroundChild_StopsTheWholeGroup_AndEndsCancelled()
    {
        var dags = _host.Get<DagService>();
        var spec = JsonSerializer.SerializeToElement(new
        {
            tag = "group-kill",
            tasks = new Dictionary<string, object> { ["hold"] = new { job = new { command = new[] { "/bin/sh", "-c", TwoSleeps } } } },
        });
        var submission = await dags.SubmitAsync(spec);
        Assert.True(submission.Accepted, string.Join("; ", submission.Errors));
        var task = (await _host.Get<IDagStore>().FindTaskAsync(submission.RunId!.Value, "hold"))!;
        var leader = await GroupOfAtLeastAsync(task.ExecutionId, 2);

        Assert.True((await dags.KillAsync(submission.RunId.Value, Actor.System)).Done);
        await _host.WaitForStateAsync(task.ExecutionId, Cancelled, StopDeadline);

        Assert.Empty(LiveGroup(leader));
    }

    [Fact]
    public async Task ALeaderThatExitsAtOnce_LeavingAChildOnItsPipes_EndsWithoutWaitingForIt_AndTheChildIsStopped()
    {
        // Hangfire users' most repeated complaint: the shell is gone, the orphan keeps stdout open, the job "runs" for 300 s.
        var e = await _host.Executions.SubmitAsync(Shell("/bin/sleep 300 & echo started"));

        var done = await _host.WaitForStateAsync(e.Id, Succeeded, StopDeadline + TimeSpan.FromSeconds(10));

        Assert.True(_leaders.TryGetValue(e.Id, out var leader));
        Assert.Empty(LiveGroup(leader));
        var logs = await _host.Queries.LogsAsync(e.Id, 1);
        Assert.Contains(logs, l => l.Stream == LogStream.Output && l.Text.Contains("started"));
        Assert.Contains(logs, l => l.Stream == LogStream.Executor && l.Text.Contains("process(es) of its group: stopped them"));
        Assert.Equal(0, Assert.Single(done.Attempts).Rc);
    }

    [Fact]
    public async Task ADaemonThatDoubleForksAndLeavesTheSession_IsStillStoppedByTheCancel()
    {
        var pidFile = Path.Combine(_host.Folder, "daemon-" + Guid.NewGuid().ToString("N")[..8]);
        // ( … &) forks twice: the daemon's parent exits, so it is re-parented away from the command, and setsid gives it a
        // session and group of its own. Only its inherited environment still ties it to the attempt.
        var e = await _host.Executions.SubmitAsync(Shell($"(/usr/bin/setsid /bin/sh -c 'echo $$ > {pidFile}.tmp; mv {pidFile}.tmp {pidFile}; exec /bin/sleep 300' &); /bin/sleep 300"));
        var leader = await GroupOfAtLeastAsync(e.Id, 1);
        var daemon = await DaemonAsync(pidFile);
        Assert.NotEqual(leader, daemon.GroupId);
        Assert.NotEqual(leader, daemon.SessionId);

        Assert.True((await _host.Executions.CancelAsync(e.Id, Actor.System)).Done);
        await _host.WaitForStateAsync(e.Id, Cancelled, StopDeadline);

        Assert.Empty(LiveGroup(leader));
        Assert.False(IsAlive(daemon), $"the daemon (pid {daemon.Pid}) outlived the attempt");
    }

    [Fact]
    public async Task AGroupThatIgnoresTerm_IsKilledWhenTheGraceHasPassed()
    {
        // An ignored signal stays ignored across exec: both the shell and its sleeps ignore TERM.
        var e = await _host.Executions.SubmitAsync(Shell("trap '' TERM; " + TwoSleeps));
        var leader = await GroupOfAtLeastAsync(e.Id, 2);

        Assert.True((await _host.Executions.CancelAsync(e.Id, Actor.System)).Done);
        await _host.WaitForStateAsync(e.Id, Cancelled, StopDeadline);

        Assert.Empty(LiveGroup(leader));
        var executor = string.Concat((await _host.Queries.LogsAsync(e.Id, 1)).Where(l => l.Stream == LogStream.Executor).Select(l => l.Text));
        Assert.Contains("ignored TERM", executor);
    }

    [Fact]
    public async Task LeaseLoss_WhileACommandRuns_StopsItsGroup_AndTheRecordStaysWithWhoeverRecoveredIt()
    {
        var e = await _host.Executions.SubmitAsync(Shell(TwoSleeps));
        var leader = await GroupOfAtLeastAsync(e.Id, 2);
        var running = (await _host.Get<IExecutionReader>().FindAsync(e.Id))!;

        // What another node does when this node's heartbeat is stale: the attempt is Lost.
        var lost = await _host.Get<ExecutionTransitions>().ApplyAsync(new TransitionCommand(e.Id, Transition.MarkLost)
            { ExpectedAttempt = running.AttemptCount, Reason = "its worker's lease expired", ErrorMessage = "worker lost" });
        Assert.True(lost.Applied);
        // The keeper's own heartbeat loop may get there first; either way it is this check that stops the work.
        await _host.Get<LeaseKeeper>().StopWorkNoLongerHeldAsync(CancellationToken.None);

        await WaitAsync(() => LiveGroup(leader).Count == 0 && !_host.Get<RunningWork>().IsRunningHere(e.Id), StopDeadline, "the group to stop");
        Assert.Equal(Lost, (await _host.Get<IExecutionReader>().FindAsync(e.Id))!.State);
    }

    internal static NewExecution Shell(string script) =>
        new() { Kind = ExecutorKind.Command, Name = "/bin/sh", Command = ["/bin/sh", "-c", script] };

    /// <summary>
    /// Waits until the command runs with at least this many live processes in its group (leader included; a shell may
    /// exec its last command in place, so <c>sh -c "a &amp; b"</c> can be two processes, not three).
    /// </summary>
    private async Task<int> GroupOfAtLeastAsync(long id, int count)
    {
        var leader = 0;
        await WaitAsync(() => _leaders.TryGetValue(id, out leader) && LiveGroup(leader).Count >= count, TimeSpan.FromSeconds(30), $"execution {id} to run {count} processes");
        return leader;
    }

    internal static List<ProcessEntry> LiveGroup(int groupId) =>
        ProcessTable.Snapshot().Where(p => p.GroupId == groupId && !p.IsZombie).ToList();

    private static bool IsAlive(ProcessEntry process) =>
        ProcessTable.Read(process.Pid) is { } now && now.StartTime == process.StartTime && !now.IsZombie;

    private static async Task<ProcessEntry> DaemonAsync(string pidFile)
    {
        ProcessEntry? daemon = null;
        await WaitAsync(() =>
        {
            if (!File.Exists(pidFile)) return false;
            daemon = ProcessTable.Read(int.Parse(File.ReadAllText(pidFile).Trim()));
            // Until the exec, the daemon is still the shell; wait for it to have left the command's session.
            return daemon is { ParentPid: not 0 } d && d.SessionId == d.Pid;
        }, TimeSpan.FromSeconds(30), "the daemon to start");
        return daemon!.Value;
    }

    private static async Task WaitAsync(Func<bool> condition, TimeSpan deadline, string what)
    {
        var until = DateTime.UtcNow + deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"{what}: not reached in {deadline.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    public void Dispose() => _host.Get<CommandRunner>().ProcessStarted -= OnStarted;
}
