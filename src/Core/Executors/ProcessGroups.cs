using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Taskdeck.Core.Executors;

/// <summary>One line of <c>/proc/&lt;pid&gt;/stat</c>: enough to say whose a process is and whether it is still the same one.</summary>
/// <param name="StartTime">Clock ticks after boot; with the pid it names one process even after its pid is reused.</param>
public readonly record struct ProcessEntry(int Pid, int ParentPid, int GroupId, int SessionId, char State, ulong StartTime)
{
    public bool IsZombie => State is 'Z' or 'X';
}

/// <summary>Reads the Linux process table from <c>/proc</c>. Processes that end while it is read are skipped.</summary>
public static class ProcessTable
{
    public static bool Available => OperatingSystem.IsLinux() && Directory.Exists("/proc/self");

    public static List<ProcessEntry> Snapshot()
    {
        var entries = new List<ProcessEntry>();
        if (!Available) return entries;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || !int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (Read(pid) is { } entry) entries.Add(entry);
        }
        return entries;
    }

    public static ProcessEntry? Read(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // "pid (comm) state ppid pgrp session … starttime(22nd)": comm may hold spaces and parentheses, so parse after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0) return null;
        var fields = text[(close + 2)..].Split(' ');
        if (fields.Length < 20) return null;
        return new ProcessEntry(pid,
            int.Parse(fields[1], CultureInfo.InvariantCulture), int.Parse(fields[2], CultureInfo.InvariantCulture),
            int.Parse(fields[3], CultureInfo.InvariantCulture), fields[0][0], ulong.Parse(fields[19], CultureInfo.InvariantCulture));
    }

    /// <summary>Whether the process started with <c>name=value</c> in its environment (its initial environment, as the kernel keeps it).</summary>
    public static bool HasEnvironment(int pid, string name, string value)
    {
        byte[] environ;
        try { environ = File.ReadAllBytes($"/proc/{pid}/environ"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        var wanted = Encoding.UTF8.GetBytes($"{name}={value}\0");
        var span = environ.AsSpan();
        var at = span.IndexOf(wanted);
        // Match a whole entry: at the start, or right after the previous entry's NUL.
        while (at >= 0)
        {
            if (at == 0 || span[at - 1] == 0) return true;
            var next = span[(at + 1)..].IndexOf(wanted);
            if (next < 0) return false;
            at += next + 1;
        }
        return false;
    }
}

/// <summary>kill(2): signals a process (pid &gt; 0) or a whole process group (pid &lt; 0).</summary>
public static class Signals
{
    public const int Terminate = 15;
    public const int Kill = 9;

    // DllImport rather than LibraryImport: the generated stub would need unsafe code for this one blittable call.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    /// <summary>False when nothing was signalled (no such process or group, or not ours to signal).</summary>
    public static bool Send(int pid, int signal) => OperatingSystem.IsLinux() && SysKill(pid, signal) == 0;
}

/// <summary>
/// The processes of one command attempt. The command is started as the leader of its own session and process group
/// (through <c>setsid</c>), so everything it forks shares its group id unless it leaves on purpose; one that does —
/// a daemon that double-forks and calls <c>setsid</c> — is still found by the marker it inherits in its environment
/// (<see cref="MarkerName"/>), and its children by their parent chain. What escapes all three (a process that leaves
/// the session <em>and</em> starts with a cleared environment, or runs as another user) is not found: only a cgroup
/// could hold it, and a node has none to give.
/// </summary>
public sealed class CommandProcessGroup(int leaderPid, string marker)
{
    /// <summary>The environment variable each command starts with, unique per attempt; descendants inherit it.</summary>
    public const string MarkerName = "TASKDECK_ATTEMPT_MARK";

    public int LeaderPid { get; } = leaderPid;
    public string Marker { get; } = marker;

    private static readonly int Self = System.Environment.ProcessId;

    /// <summary>Live (not zombie) processes that belong to the attempt now.</summary>
    public List<ProcessEntry> Members()
    {
        var table = ProcessTable.Snapshot();
        var mine = new Dictionary<int, ProcessEntry>();
        foreach (var p in table)
        {
            if (p.Pid == Self || p.Pid <= 1) continue;
            if (p.Pid == LeaderPid || p.GroupId == LeaderPid || p.SessionId == LeaderPid) mine[p.Pid] = p;
        }
        foreach (var p in table)
        {
            if (p.Pid == Self || p.Pid <= 1 || mine.ContainsKey(p.Pid) || p.IsZombie) continue;
            if (ProcessTable.HasEnvironment(p.Pid, MarkerName, Marker)) mine[p.Pid] = p;
        }
        // Children of what was found, to any depth (a daemon's children that were started with a cleared environment).
        var byParent = table.ToLookup(p => p.ParentPid);
        var queue = new Queue<int>(mine.Keys);
        while (queue.Count > 0)
            foreach (var child in byParent[queue.Dequeue()])
                if (child.Pid != Self && mine.TryAdd(child.Pid, child)) queue.Enqueue(child.Pid);
        return mine.Values.Where(p => !p.IsZombie).ToList();
    }

    /// <summary>Signals the group, and each member found by other means (by pid, checked to be the same process).</summary>
    public int Signal(int signal, IReadOnlyList<ProcessEntry> members)
    {
        var sent = Signals.Send(-LeaderPid, signal) ? 1 : 0;
        foreach (var p in members)
        {
            if (p.GroupId == LeaderPid) continue;
            // The pid may have been reused since the snapshot: signal it only if it is still the process we saw.
            if (ProcessTable.Read(p.Pid) is { } now && now.StartTime == p.StartTime && Signals.Send(p.Pid, signal)) sent++;
        }
        // The leader may not have reached setsid() yet (signalled right after the fork): then it is not a group leader.
        if (members.Any(p => p.Pid == LeaderPid && p.GroupId != LeaderPid)) Signals.Send(LeaderPid, signal);
        return sent;
    }

    /// <summary>
    /// TERM to everything of the attempt; KILL to what is left when <paramref name="grace"/> has passed. Returns what was
    /// still alive at the end (empty unless something could not be killed).
    /// </summary>
    public async Task<StopReport> StopAsync(TimeSpan grace, TimeProvider time)
    {
        var members = Members();
        if (members.Count == 0) return new StopReport(0, 0, []);
        var termed = members.Count;
        Signal(Signals.Terminate, members);
        var deadline = time.GetUtcNow() + grace;
        while (time.GetUtcNow() < deadline)
        {
            await Task.Delay(PollInterval, time);
            members = Members();
            if (members.Count == 0) return new StopReport(termed, 0, []);
            // Forked after the TERM: it gets one too.
            Signal(Signals.Terminate, members);
        }
        var killed = 0;
        var killDeadline = time.GetUtcNow() + KillWait;
        while (members.Count > 0 && time.GetUtcNow() < killDeadline)
        {
            killed = Math.Max(killed, members.Count);
            Signal(Signals.Kill, members);
            await Task.Delay(PollInterval, time);
            members = Members();
        }
        return new StopReport(termed, killed, members);
    }

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    /// <summary>SIGKILL cannot be ignored; this bounds only the time the kernel takes to tear the processes down.</summary>
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(2);
}

/// <param name="Terminated">Processes sent TERM.</param>
/// <param name="Killed">Processes still alive after the grace, sent KILL.</param>
/// <param name="Left">Processes still alive at the end.</param>
public sealed record StopReport(int Terminated, int Killed, IReadOnlyList<ProcessEntry> Left);
