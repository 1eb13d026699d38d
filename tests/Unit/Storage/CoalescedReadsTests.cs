using System.Data.Common;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Storage;

public sealed class CoalescedReadsTests
{
    /// <summary>A read function held until released, recording what each statement was asked.</summary>
    private sealed class HeldDatabase
    {
        public readonly List<IReadOnlyList<int>> Statements = [];
        public readonly TaskCompletionSource Release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource FirstAsked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Func<int, bool> Refuses = _ => false;
        public Exception? Unreachable;

        public async Task<string> AloneAsync(int request)
        {
            lock (Statements) Statements.Add([request]);
            FirstAsked.TrySetResult();
            await Release.Task;
            return Refuses(request) ? throw new InvalidOperationException($"refused {request}") : $"answer {request}";
        }

        public async Task<IReadOnlyList<string>> TogetherAsync(IReadOnlyList<int> requests)
        {
            lock (Statements) Statements.Add(requests);
            await Task.Yield();
            if (Unreachable is not null) throw Unreachable;
            if (requests.Any(Refuses)) throw new InvalidOperationException("one refused");
            return [.. requests.Select(r => $"answer {r}")];
        }
    }

    /// <summary>Asks for 1, held by the database; asks for 2, 3, … (<paramref name="later"/> of them) while it is held; then lets it answer.</summary>
    private static async Task<(Task<string> First, List<Task<string>> Later)> AskWhileTheFirstIsHeldAsync(HeldDatabase database, CoalescedReads<int, string> reads, int later)
    {
        var first = reads.ReadAsync(1);
        await database.FirstAsked.Task;
        var asked = Enumerable.Range(2, later).Select(i => reads.ReadAsync(i)).ToList();
        database.Release.SetResult();
        return (first, asked);
    }

    /// <summary>A provider's error for a connection that failed, as Npgsql's and SQLite's say of a refused connection or a busy file.</summary>
    private sealed class TransientDbException(string message) : DbException(message)
    {
        public override bool IsTransient => true;
    }

    [Fact]
    public async Task CallersWhoAskWhileAReadIsUnderWay_AreReadTogetherByTheNext_EachGettingItsOwnAnswer()
    {
        var database = new HeldDatabase();
        var reads = new CoalescedReads<int, string>(database.AloneAsync, database.TogetherAsync);

        var (first, later) = await AskWhileTheFirstIsHeldAsync(database, reads, 5);

        Assert.Equal("answer 1", await first);
        Assert.Equal(Enumerable.Range(2, 5).Select(i => $"answer {i}"), await Task.WhenAll(later));
        Assert.Equal([[1], [2, 3, 4, 5, 6]], database.Statements);
        Assert.Equal(5, reads.AnsweredTogether);
    }

    [Fact]
    public async Task AReadOfSeveralThatFails_IsAskedAgainOneByOne_AndOnlyTheRefusedRequestFails()
    {
        var database = new HeldDatabase { Refuses = r => r == 3 };
        var reads = new CoalescedReads<int, string>(database.AloneAsync, database.TogetherAsync);

        var (first, later) = await AskWhileTheFirstIsHeldAsync(database, reads, 3);

        Assert.Equal("answer 1", await first);
        Assert.Equal("answer 2", await later[0]);
        Assert.Equal("refused 3", (await Assert.ThrowsAsync<InvalidOperationException>(() => later[1])).Message);
        Assert.Equal("answer 4", await later[2]);
        Assert.Equal([[1], [2, 3, 4], [2], [3], [4]], database.Statements);
        Assert.Equal(0, reads.AnsweredTogether);
    }

    public static TheoryData<Exception> UnreachableDatabaseErrors() => new()
    {
        new TimeoutException("the server did not answer"),
        // As EF Core hands it on: the provider's transient error inside its own.
        new InvalidOperationException("An exception has been raised that is likely due to a transient failure.", new TransientDbException("connection refused")),
    };

    [Theory]
    [MemberData(nameof(UnreachableDatabaseErrors))]
    public async Task AReadOfSeveralThatCannotReachTheDatabase_FailsThemAllAtOnce_NotOneAfterAnother(Exception unreachable)
    {
        var database = new HeldDatabase { Unreachable = unreachable };
        var reads = new CoalescedReads<int, string>(database.AloneAsync, database.TogetherAsync);

        var (first, later) = await AskWhileTheFirstIsHeldAsync(database, reads, 3);

        Assert.Equal("answer 1", await first);
        foreach (var read in later) Assert.Same(unreachable, await Assert.ThrowsAnyAsync<Exception>(() => read));
        Assert.Equal([[1], [2, 3, 4]], database.Statements);
    }

    [Fact]
    public async Task ACallerAloneIsReadAtOnce_AndAnAnswerAfterTheReaderStoppedStartsAnother()
    {
        var database = new HeldDatabase();
        database.Release.SetResult();
        var reads = new CoalescedReads<int, string>(database.AloneAsync, database.TogetherAsync);

        for (var i = 0; i < 50; i++) Assert.Equal($"answer {i}", await reads.ReadAsync(i));

        Assert.Equal(Enumerable.Range(0, 50).Select(i => (IReadOnlyList<int>)[i]), database.Statements);
    }
}
