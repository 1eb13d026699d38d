using System.Diagnostics;

namespace Taskdeck.Unit.Infrastructure;

/// <summary>Prometheus's own linter (Debian's <c>prometheus</c> package; tests/run-all.sh installs it when missing).</summary>
public static class Promtool
{
    /// <summary>Pipes a scrape to <c>promtool check metrics</c>; returns its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string scrape)
    {
        var path = new[] { Environment.GetEnvironmentVariable("PROMTOOL"), "/usr/bin/promtool", "/usr/local/bin/promtool" }
            .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p))
            ?? throw new InvalidOperationException("promtool was not found: install Debian's prometheus package (bash tests/run-all.sh does) or set PROMTOOL.");
        var start = new ProcessStartInfo(path, "check metrics")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(scrape);
        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }
}
