using Taskdeck.Bench.Chaos;
using Xunit.Abstractions;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// The chaos run of <c>bench -- chaos</c> (the same code, linked from bench/Chaos), scaled down to stay near a minute:
/// 5 rounds of SIGKILL and restart on one SQLite file while 100 mixed tasks and a 6-task DAG per round run (the bench
/// runs 1,000 tasks over 50 rounds). Every execution must end Succeeded with exactly one succeeded attempt, no attempt
/// left open, and every DAG run Completed.
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FiveCrashesAtRandomMoments_EveryExecutionEndsSucceededExactlyOnce_AndNoDagIsStuck()
    {
        var report = await new ChaosRun(rounds: 5, tasks: 100, dagSize: 6, output.WriteLine).RunAsync();
        output.WriteLine(report.ToString());

        Assert.Empty(report.Problems);
        Assert.Equal(5, report.DagRuns);
        Assert.Equal(100 + 5 * 6, report.Executions);
    }
}
