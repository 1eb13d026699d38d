using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Taskdeck.Unit.Infrastructure;

/// <summary>
/// A real PostgreSQL server from Debian's packages, started for the tests in a temp folder on a free loopback port
/// (no systemd needed) and stopped afterwards. As root, the server runs as the <c>postgres</c> user.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-pg-" + Guid.NewGuid().ToString("N")[..8]);
    private string _bin = "";

    public int Port { get; private set; }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Maximum Pool Size=30;Timeout=15";

    public async Task InitializeAsync()
    {
        _bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's postgresql package (tests/run-all.sh does).");
        Port = FreePort();
        Directory.CreateDirectory(_folder);
        if (IsRoot) await RunAsync("chown", "postgres:postgres", _folder);
        await RunAsPostgresAsync($"{_bin}/initdb -D {_folder}/data -U postgres -A trust -E UTF8 --no-sync");
        await StartAsync();
    }

    /// <summary>The settings of a node's storage on a fresh, empty database of this server.</summary>
    public async Task<Dictionary<string, string?>> StorageSettingsAsync() => new()
    {
        ["Taskdeck:Storage:Provider"] = "PostgreSql",
        ["ConnectionStrings:Taskdeck"] = await CreateDatabaseAsync(),
    };

    /// <summary>A fresh, empty database for one test.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "taskdeck_" + Guid.NewGuid().ToString("N")[..10];
        await using var connection = new Npgsql.NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {name}";
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>
    /// <c>pg_ctl restart -m fast</c>: every session is ended (clients see their connections break), the server stops
    /// and starts again on the same port with the same options. Returns once it accepts connections.
    /// </summary>
    public Task RestartFastAsync() =>
        // -l again: without it the restarted server would write to pg_ctl's stdout, which this process reads to its end.
        RunAsPostgresAsync($"{_bin}/pg_ctl -D {_folder}/data -l {_folder}/log -m fast -w -t 60 restart");

    /// <summary><c>pg_ctl stop -m fast</c>: the server ends every session and stays down until <see cref="StartAsync"/>.</summary>
    public Task StopAsync() => RunAsPostgresAsync($"{_bin}/pg_ctl -D {_folder}/data -m fast -w -t 60 stop");

    /// <summary>Starts the server (again, after <see cref="StopAsync"/>) on its port; returns once it accepts connections.</summary>
    public Task StartAsync() =>
        RunAsPostgresAsync($"{_bin}/pg_ctl -D {_folder}/data -l {_folder}/log -w -t 60 -o \"-p {Port} -k {_folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300\" start");

    public async Task DisposeAsync()
    {
        if (_bin.Length > 0 && Directory.Exists(Path.Combine(_folder, "data")))
        {
            try { await RunAsPostgresAsync($"{_bin}/pg_ctl -D {_folder}/data -m immediate -w stop"); } catch (InvalidOperationException) { }
        }
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static string? FindBin() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            : null;

    private Task RunAsPostgresAsync(string command) =>
        IsRoot ? RunAsync("su", "postgres", "-s", "/bin/sh", "-c", command) : RunAsync("/bin/sh", "-c", command);

    private static async Task RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/" };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {await stdout} {await stderr}");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
