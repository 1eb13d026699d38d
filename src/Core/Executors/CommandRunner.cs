using System.Diagnostics;
using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Executors;

/// <summary>
/// Runs a process as daggy's <c>job</c> describes: stdout → output log, stderr → error log, exit code → rc.
/// Cancel or timeout kills the whole process tree, not just the direct child.
/// </summary>
public sealed class CommandRunner
{
    public sealed class CommandFailedException(int rc, string message) : Exception(message)
    {
        public int Rc { get; } = rc;
    }

    /// <summary>Raised to the runner with the pid so tests and the executor log can name the process.</summary>
    public event Action<long, int>? ProcessStarted;

    public async Task<int> RunAsync(Execution execution, AttemptLog log, IReadOnlyDictionary<string, string>? extraEnvironment, CancellationToken ct)
    {
        if (execution.Command.Count == 0) throw new InvalidOperationException("The command is empty.");
        var start = new ProcessStartInfo(execution.Command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = string.IsNullOrEmpty(execution.WorkingDirectory) ? System.Environment.CurrentDirectory : execution.WorkingDirectory,
        };
        foreach (var arg in execution.Command.Skip(1)) start.ArgumentList.Add(arg);
        foreach (var pair in execution.Environment)
        {
            var eq = pair.IndexOf('=');
            if (eq > 0) start.Environment[pair[..eq]] = pair[(eq + 1)..];
        }
        if (extraEnvironment is not null)
            foreach (var (key, value) in extraEnvironment) start.Environment[key] = value;

        using var process = new Process { StartInfo = start };
        try { process.Start(); }
        catch (Exception e) { throw new CommandFailedException(127, $"could not start {execution.Command[0]}: {e.Message}"); }
        process.StandardInput.Close();
        log.Executor($"started pid {process.Id}: {string.Join(' ', execution.Command)}");
        ProcessStarted?.Invoke(execution.Id, process.Id);

        var stdout = PumpAsync(process.StandardOutput, LogStream.Output, log);
        var stderr = PumpAsync(process.StandardError, LogStream.Error, log);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            KillTree(process, log);
            await process.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAll(stdout, stderr);
            throw;
        }
        await Task.WhenAll(stdout, stderr);
        log.Executor($"pid {process.Id} exited with code {process.ExitCode}");
        return process.ExitCode;
    }

    private static void KillTree(Process process, AttemptLog log)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            log.Executor($"killed pid {process.Id} and its children");
        }
        catch (InvalidOperationException) { /* already exited */ }
    }

    private static async Task PumpAsync(StreamReader reader, LogStream stream, AttemptLog log)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
            log.Write(stream, new string(buffer, 0, read));
    }
}
