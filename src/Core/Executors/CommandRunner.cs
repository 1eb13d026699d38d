using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Secrets;

namespace Taskdeck.Core.Executors;

/// <summary>
/// Runs a process as daggy's <c>job</c> describes: stdout → output log, stderr → error log, exit code → rc.
/// The process leads its own session and process group; when the attempt ends — cancel, timeout, a DAG kill, the node
/// stopping or losing its lease, or simply the leader exiting — whatever is left of the group gets TERM, then KILL after
/// <see cref="CommandOptions.KillGraceSeconds"/> (see <see cref="CommandProcessGroup"/> for what is found and what can
/// escape). The attempt never waits on a pipe that a stray process keeps open: the output read until the group is
/// gone (or the grace has passed) is kept, up to the log bound.
/// </summary>
public sealed class CommandRunner(IOptions<TaskdeckOptions> options, TimeProvider time, ILogger<CommandRunner> logger)
{
    public sealed class CommandFailedException(int rc, string message) : Exception(message)
    {
        public int Rc { get; } = rc;
    }

    /// <summary>util-linux's <c>setsid</c>: not a group leader when .NET forks it, so it calls setsid(2) and execs the command in place.</summary>
    private static readonly string? SetsidPath = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    /// <summary>Whether commands get their own session here (Linux with util-linux's <c>setsid</c>); otherwise only the process tree is killed.</summary>
    public static bool RunsInOwnSession => SetsidPath is not null && ProcessTable.Available;

    /// <summary>Raised with the execution id and the leader's pid (which is also its process group and session id).</summary>
    public event Action<long, int>? ProcessStarted;

    public async Task<int> RunAsync(Execution execution, AttemptLog log, IReadOnlyDictionary<string, string>? extraEnvironment, CancellationToken ct)
    {
        if (execution.Command.Count == 0) throw new InvalidOperationException("The command is empty.");
        // Checked at submit, and again here: the allow-list, a symlink's target or a folder may have changed since.
        var door = options.Value.Commands;
        if (CommandDoor.CheckExecutable(door, execution.Command[0], out var executable) is { } refused)
            throw new CommandFailedException(126, $"refused: {refused}");
        if (CommandDoor.CheckEnvironment(door, execution.Environment) is { } denied)
            throw new CommandFailedException(126, $"refused: {denied.Error}");
        if (CommandDoor.CheckWorkingDirectory(door, execution.WorkingDirectory) is { } outside)
            throw new CommandFailedException(126, $"refused: workingDirectory {outside}");

        var ownFolder = string.IsNullOrEmpty(execution.WorkingDirectory) ? CreateAttemptFolder(execution.Id) : null;
        try
        {
            return await RunInAsync(execution, executable, ownFolder ?? execution.WorkingDirectory!, log, extraEnvironment, ct);
        }
        finally
        {
            if (ownFolder is not null) DeleteAttemptFolder(ownFolder, log);
        }
    }

    private async Task<int> RunInAsync(Execution execution, string executable, string workingDirectory, AttemptLog log,
        IReadOnlyDictionary<string, string>? extraEnvironment, CancellationToken ct)
    {
        var marker = Guid.NewGuid().ToString("N");
        var start = new ProcessStartInfo(RunsInOwnSession ? SetsidPath! : executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        if (RunsInOwnSession) start.ArgumentList.Add(executable);
        // {{secret:NAME}} becomes its value here and only here: the run keeps the reference, the process gets the value.
        var secrets = options.Value.Secrets;
        try
        {
            foreach (var arg in execution.Command.Skip(1)) start.ArgumentList.Add(SecretText.Resolve(secrets, arg));
        }
        catch (KeyNotFoundException e) { throw new CommandFailedException(126, $"refused: command: {e.Message}"); }
        // Never the server's environment (its connection string, its worker token): a fixed few, then what the spec sets.
        start.Environment.Clear();
        start.Environment["PATH"] = options.Value.Commands.Path;
        start.Environment["HOME"] = workingDirectory;
        start.Environment["LANG"] = System.Environment.GetEnvironmentVariable("LANG") is { Length: > 0 } lang ? lang : "C.UTF-8";
        foreach (var pair in execution.Environment)
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) continue;
            try { start.Environment[pair[..eq]] = SecretText.Resolve(secrets, pair[(eq + 1)..]); }
            catch (KeyNotFoundException e) { throw new CommandFailedException(126, $"refused: environment {pair[..eq]}: {e.Message}"); }
        }
        if (extraEnvironment is not null)
            foreach (var (key, value) in extraEnvironment) start.Environment[key] = value;
        start.Environment[CommandProcessGroup.MarkerName] = marker;

        using var process = new Process { StartInfo = start };
        try { process.Start(); }
        catch (Exception e) { throw new CommandFailedException(127, $"could not start {execution.Command[0]}: {e.Message}"); }
        process.StandardInput.Close();
        var group = new CommandProcessGroup(process.Id, marker);
        log.Executor($"started pid {process.Id}: {string.Join(' ', execution.Command)}");
        if (execution.Environment.Count > 0)
            log.Executor($"environment: {string.Join(' ', SecretText.RedactEnvironment(secrets, execution.Environment))}");
        if (RunsInOwnSession) log.Executor($"pid {process.Id} leads its own session and process group");
        ProcessStarted?.Invoke(execution.Id, process.Id);

        // What the process prints is masked before it is stored or shown: a job that echoes its own secret-looking
        // variable (or a resolved {{secret:…}}) leaves *** in its log, as GitHub Actions does.
        var mask = SecretMask.For(secrets, execution.Command.Skip(1), execution.Environment, extraEnvironment);
        using var stopReading = new CancellationTokenSource();
        var stdout = PumpAsync(process.StandardOutput, LogStream.Output, log, mask, stopReading.Token);
        var stderr = PumpAsync(process.StandardError, LogStream.Error, log, mask, stopReading.Token);
        var stopped = false;
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            stopped = true;
        }

        var grace = TimeSpan.FromSeconds(options.Value.Commands.KillGraceSeconds);
        if (stopped) log.Executor($"stopping pid {process.Id} and its process group: TERM, then KILL after {grace.TotalSeconds:0.###} s");
        await StopGroupAsync(process, group, grace, log, leaderExited: !stopped);
        // A process that escaped the group may still hold a pipe: keep what was read and stop waiting once the grace is up.
        var drained = Task.WhenAll(stdout, stderr);
        if (await Task.WhenAny(drained, Task.Delay(grace, time)) != drained)
        {
            log.Executor("a process outside the group still holds the output pipes; the rest of its output is not read");
            await stopReading.CancelAsync();
            await drained;
        }

        if (stopped)
        {
            log.Executor($"killed pid {process.Id} and its process group");
            throw new OperationCanceledException(ct);
        }
        log.Executor($"pid {process.Id} exited with code {process.ExitCode}");
        return process.ExitCode;
    }

    /// <summary>The attempt's own folder (its working directory and HOME) when the spec names none: nothing is shared between attempts.</summary>
    private static string CreateAttemptFolder(long executionId)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-attempts", $"{executionId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return folder;
    }

    private void DeleteAttemptFolder(string folder, AttemptLog log)
    {
        try { Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Executor($"could not remove the attempt's folder {folder}: {e.Message}");
            logger.LogWarning(e, "Could not remove the attempt folder {Folder}", folder);
        }
    }

    private async Task StopGroupAsync(Process process, CommandProcessGroup group, TimeSpan grace, AttemptLog log, bool leaderExited)
    {
        if (!RunsInOwnSession)
        {
            if (!leaderExited)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* already exited */ }
                await process.WaitForExitAsync(CancellationToken.None);
            }
            return;
        }
        var report = await group.StopAsync(grace, time);
        if (leaderExited && report.Terminated > 0)
            log.Executor($"pid {process.Id} exited leaving {report.Terminated} process(es) of its group: stopped them");
        if (report.Killed > 0) log.Executor($"{report.Killed} process(es) ignored TERM for {grace.TotalSeconds:0.###} s: killed");
        if (report.Left.Count > 0)
        {
            var pids = string.Join(", ", report.Left.Select(p => p.Pid));
            log.Executor($"could not stop pid(s) {pids}");
            logger.LogWarning("Command group {Leader} left processes {Pids} that could not be killed", group.LeaderPid, pids);
        }
        // The leader is .NET's own child: wait for it to be reaped so its exit code is known.
        if (!leaderExited) await process.WaitForExitAsync(CancellationToken.None);
    }

    private static async Task PumpAsync(StreamReader reader, LogStream stream, AttemptLog log, SecretMask mask, CancellationToken ct)
    {
        var buffer = new char[4096];
        var writer = new MaskedWriter(mask, text => log.Write(stream, text));
        try
        {
            int read;
            while ((read = await reader.ReadAsync(buffer, ct)) > 0)
                writer.Write(new string(buffer, 0, read));
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
        catch (IOException) { }
        writer.Flush();
    }
}
