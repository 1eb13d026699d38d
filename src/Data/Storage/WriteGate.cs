using Taskdeck.Core;

namespace Taskdeck.Data.Storage;

/// <summary>
/// SQLite lets one connection write at a time, and Microsoft.Data.Sqlite waits for a busy database by polling: while
/// the engine's <see cref="WriteQueue"/> commits batch after batch, another connection's write could miss every
/// window until its timeout ("database is locked"). Every writer in this process takes this gate first, in turn.
/// Other providers lock rows, not the database: there it lets everyone through.
/// </summary>
public sealed class WriteGate(TaskdeckDatabase database)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly bool _serialise = database.Provider == StorageProvider.Sqlite;

    public async ValueTask<IDisposable> EnterAsync(CancellationToken ct = default)
    {
        if (!_serialise) return Open.Instance;
        await _gate.WaitAsync(ct);
        return new Held(_gate);
    }

    private sealed class Open : IDisposable
    {
        public static readonly Open Instance = new();
        public void Dispose() { }
    }

    private sealed class Held(SemaphoreSlim gate) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) gate.Release();
        }
    }
}
