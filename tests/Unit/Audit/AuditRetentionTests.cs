using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Taskdeck.Core.Audit;
using Taskdeck.Data.Audit;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.Audit;

/// <summary>Retention: the background pruner deletes entries past <c>Taskdeck:Audit:RetentionDays</c>, driven by a fake clock.</summary>
public sealed class AuditRetentionTests
{
    private static AuditEntry Entry(string actor, DateTimeOffset at) => new()
    {
        At = at, ActorName = actor, ActorKind = ActorKind.User, Action = AuditActions.Cancel, Outcome = AuditOutcome.Applied,
    };

    private static async Task<IReadOnlyList<string>> ActorsAsync(StorageHost storage) =>
        (await storage.Get<AuditQueries>().PageAsync(new AuditFilter(), 0, 100)).Items.Select(e => e.ActorName).Order().ToList();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"{what}: not reached in time");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Retention_PrunesAtStart_ThenEachInterval_OnlyWhatIsPastTheRetention()
    {
        await using var storage = await StorageHost.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=retention.db" });
        var store = storage.Get<IAuditStore>();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
        var now = clock.GetUtcNow();
        await store.AppendAsync(Entry("forty-days-old", now.AddDays(-40)));
        await store.AppendAsync(Entry("twenty-nine-days-old", now.AddDays(-29)));
        await store.AppendAsync(Entry("today", now));
        var options = Options.Create(new AuditOptions { RetentionDays = 30, PruneIntervalMinutes = 60 });
        using var retention = new AuditRetention(store, options, clock, NullLogger<AuditRetention>.Instance);

        await retention.StartAsync(CancellationToken.None);
        await WaitUntilAsync(async () => !(await ActorsAsync(storage)).Contains("forty-days-old"), "the first prune at start");
        Assert.Equal(["today", "twenty-nine-days-old"], await ActorsAsync(storage));

        // Two days on, the 29-day-old entry is 31 days old: the next interval's prune takes it, and only it.
        clock.Advance(TimeSpan.FromDays(2));
        await WaitUntilAsync(async () => !(await ActorsAsync(storage)).Contains("twenty-nine-days-old"), "the prune after an interval");
        Assert.Equal(["today"], await ActorsAsync(storage));
        await retention.StopAsync(CancellationToken.None);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(ValidateAuditOptions.MaxRetentionDays + 1)]
    public void ARetentionOutOfRange_IsRefused_NamingTheSetting(int days)
    {
        var result = new ValidateAuditOptions().Validate(null, new AuditOptions { RetentionDays = days });

        Assert.True(result.Failed);
        Assert.Contains("Taskdeck:Audit:RetentionDays", result.FailureMessage);
    }

    [Fact]
    public void TheDefaults_AreValid_AndKeepAYear()
    {
        var defaults = new AuditOptions();

        Assert.True(new ValidateAuditOptions().Validate(null, defaults).Succeeded);
        Assert.Equal(365, defaults.RetentionDays);
    }
}
