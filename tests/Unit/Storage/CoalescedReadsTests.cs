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

    [Fact]
    public async Task CallersWhoAskWhileAReadIsUnderWay_AreReadTogetherByTheNext_EachGettingItsOwnAnswer()
    {
        var database = new HeldDatabase();
        var reads = new CoalescedReads<int, string>(database.AloneAsync, database.TogetherAsync);

        var first = reads.ReadAsync(1);
        await database.FirstAsked.Task;
        var later = Enumerable.Range(2, 5).Select(i => reads.ReadAsync(i)).ToList();
        database.Release.SetResult();

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

        var first = reads.ReadAsync(1);
        await database.FirstAsked.Task;
        var later = Enumerable.Range(2, 3).Select(i => reads.ReadAsync(i)).ToList();
        database.Release.SetResult();

        Assert.Equal("answer 1", await first);
        Assert.Equal("answer 2", await later[0]);
        Assert.Equal("refused 3", (await Assert.ThrowsAsync<InvalidOperationException>(() => later[1])).Message);
        Assert.Equal("answer 4", await later[2]);
        Assert.Equal([[1], [2, 3, 4], [2], [3], [4]], database.Statements);
        Assert.Equal(0, reads.AnsweredTogether);
    }

    [Fact]
    public async Task AReadOfSeveralThatCannotReachTheDatabase_FailsThemAllAtOnce_NotOneAfterAnother()
    {
        var database = new HeldDatabase { Unreachable = new TimeoutException("the server did not answer") };
        var reads = new CoalescedReads<int, string>(database.AloneAsync, database.TogetherAsync);

        var first = reads.ReadAsync(1);
        await database.FirstAsked.Task;
        var later = Enumerable.Range(2, 3).Select(i => reads.ReadAsync(i)).ToList();
        database.Release.SetResult();

        Assert.Equal("answer 1", await first);
        foreach (var read in later) Assert.Equal("the server did not answer", (await Assert.ThrowsAsync<TimeoutException>(() => read)).Message);
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
