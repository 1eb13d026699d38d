using System.Runtime.InteropServices;

namespace Taskdeck.Core.Executors;

/// <summary>
/// What a command may be: an allow-listed executable (compared by its real path, after symlinks and <c>..</c>), an
/// environment without names that change how programs load or find each other, and a working directory under a
/// configured root. Checked at submit (API, DAG, work-task types at start) and again just before the process starts,
/// since the file system and the configuration may have changed since.
/// </summary>
public static class CommandDoor
{
    /// <summary>Names no spec may set whatever the configuration says: the loader's and the search path.</summary>
    public static readonly IReadOnlyList<string> AlwaysDenied = ["LD_*", "DYLD_*", "PATH"];

    /// <summary>Why the executable may not run (null: it may), and its real path when it may.</summary>
    public static string? CheckExecutable(CommandOptions options, string executable, out string resolved)
    {
        resolved = executable;
        if (!options.Enabled) return "Commands are disabled on this server (Taskdeck:Commands:Enabled).";
        if (string.IsNullOrWhiteSpace(executable)) return "The command is empty.";
        if (!Path.IsPathFullyQualified(executable))
            return $"'{executable}' is not an absolute path: commands name their executable by its full path (no PATH search).";
        if (RealPath(executable) is not { } real || !File.Exists(real)) return $"'{executable}' does not exist on this server.";
        resolved = real;
        if (options.AllowsAny) return null;
        foreach (var entry in options.Allow)
            if (RealPath(entry) is { } allowed && string.Equals(allowed, real, StringComparison.Ordinal)) return null;
        return real == executable
            ? $"'{executable}' is not in Taskdeck:Commands:Allow."
            : $"'{executable}' is '{real}', which is not in Taskdeck:Commands:Allow.";
    }

    /// <summary>The first environment entry that is malformed or names a denied variable: (its name, why), or null.</summary>
    public static (string Name, string Error)? CheckEnvironment(CommandOptions options, IEnumerable<string> environment)
    {
        foreach (var pair in environment)
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) return (pair, $"'{pair}' is not of the form NAME=value.");
            var name = pair[..eq];
            if (AlwaysDenied.Concat(options.DeniedEnvironment).FirstOrDefault(pattern => Matches(pattern, name)) is { } rule)
                return (name, $"'{name}' may not be set by a command's environment ({(AlwaysDenied.Contains(rule) ? "the loader and PATH are fixed by the server" : "Taskdeck:Commands:DeniedEnvironment")}: {rule}).");
        }
        return null;
    }

    /// <summary>Why the working directory may not be used (null: it may). Empty means the attempt's own temporary folder.</summary>
    public static string? CheckWorkingDirectory(CommandOptions options, string? directory)
    {
        if (string.IsNullOrEmpty(directory)) return null;
        if (!Path.IsPathFullyQualified(directory)) return $"'{directory}' is not an absolute path.";
        if (RealPath(directory) is not { } real || !Directory.Exists(real)) return $"'{directory}' does not exist on this server.";
        foreach (var root in options.WorkingDirectories)
            if (RealPath(root) is { } allowed && IsUnder(real, allowed)) return null;
        return options.WorkingDirectories.Count == 0
            ? $"'{directory}' is not allowed: no Taskdeck:Commands:WorkingDirectories are configured, so each attempt runs in a temporary folder of its own (leave workingDirectory out)."
            : $"'{directory}' is not under any of Taskdeck:Commands:WorkingDirectories ({string.Join(", ", options.WorkingDirectories)}).";
    }

    private static bool IsUnder(string path, string root) =>
        path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    /// <summary>A name pattern: exact, or a prefix ending in <c>*</c>. Case-insensitive, so <c>ld_preload</c> is no way around <c>LD_*</c>.</summary>
    public static bool Matches(string pattern, string name) =>
        pattern.EndsWith('*')
            ? name.StartsWith(pattern[..^1], StringComparison.OrdinalIgnoreCase)
            : string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);

    /// <summary>The canonical path with every symlink and <c>..</c> resolved (realpath(3)); null when it does not exist.</summary>
    public static string? RealPath(string path)
    {
        if (!Path.IsPathFullyQualified(path)) return null;
        if (!OperatingSystem.IsWindows())
        {
            var buffer = SysRealPath(path, IntPtr.Zero);
            if (buffer == IntPtr.Zero) return null;
            try { return Marshal.PtrToStringUTF8(buffer); }
            finally { SysFree(buffer); }
        }
        var full = Path.GetFullPath(path);
        if (!File.Exists(full) && !Directory.Exists(full)) return null;
        var info = File.Exists(full) ? (FileSystemInfo)new FileInfo(full) : new DirectoryInfo(full);
        return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
    }

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    private static extern IntPtr SysRealPath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void SysFree(IntPtr pointer);

    /// <summary>File names of programs that run whatever code they are handed: an allow-list entry that is one allows anything.</summary>
    public static bool IsInterpreter(string path)
    {
        var name = Path.GetFileName(path);
        return name is "sh" or "bash" or "dash" or "zsh" or "ksh" or "csh" or "tcsh" or "fish" or "busybox" or "env" or "xargs" or "nohup"
                   or "setsid" or "timeout" or "nice" or "sudo" or "su" or "perl" or "ruby" or "node" or "php" or "lua" or "awk" or "gawk" or "mawk"
                   or "tclsh" or "dotnet" or "java" or "pwsh"
               || name.StartsWith("python", StringComparison.Ordinal);
    }
}
