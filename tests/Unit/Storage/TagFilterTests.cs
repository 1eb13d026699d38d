using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Storage;

/// <summary>
/// A tag filter matches one whole tag, exactly, on each provider: a tag holding the delimiter cannot pass for two
/// tags, and <c>%</c> and <c>_</c> are characters, not wildcards. The migration re-encodes rows stored before.
/// </summary>
public abstract class TagFilterTests
{
    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    private static NewExecution Tagged(params string[] tags) => new() { Kind = ExecutorKind.Handler, Name = "demo.noop", Tags = tags };

    [Fact]
    public async Task ATagFilter_MatchesOnlyTheWholeTag_AndTreatsWildcardsAsCharacters()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var ids = await store.InsertAsync(
        [
            (Tagged("a|b", "x%y", "a_c", "Case"), ExecutionState.Queued),
            (Tagged("a", "b"), ExecutionState.Queued),
            (Tagged("axc", "xzy"), ExecutionState.Queued),
        ], DateTimeOffset.UtcNow, "tags-test");
        var (spoofing, plain, lookalike) = (ids[0], ids[1], ids[2]);

        async Task<IReadOnlyList<long>> Find(string tag) => (await store.FindIdsAsync(new ExecutionFilter { Tag = tag }, 100)).Order().ToList();

        Assert.Equal([plain], await Find("a"));
        Assert.Equal([plain], await Find("b"));
        Assert.Equal([spoofing], await Find("a|b"));
        Assert.Equal([spoofing], await Find("a_c"));
        Assert.Equal([spoofing], await Find("x%y"));
        Assert.Empty(await Find("%"));
        Assert.Empty(await Find("_"));
        Assert.Empty(await Find("a%"));
        Assert.Equal([lookalike], await Find("axc"));
    }

    [Fact]
    public async Task TheMigration_ReencodesTagsStoredTheOldWay_AndItsDownRestoresThem()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var ids = await storage.Get<ExecutionStore>().InsertAsync([(Tagged("a|b", "x%y", "plain"), ExecutionState.Queued), (Tagged("c"), ExecutionState.Queued)],
            DateTimeOffset.UtcNow, "tags-test");
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var migrations = db.Database.GetMigrations().ToList();
        var mine = migrations.FindIndex(m => m.EndsWith("_EscapedTagText", StringComparison.Ordinal));
        var migrator = db.GetService<IMigrator>();

        async Task<string> TagText(long id) => await db.Executions.Where(e => e.Id == id).Select(e => EF.Property<string>(e, TaskdeckDbContext.TagsText)).SingleAsync();

        await migrator.MigrateAsync(migrations[mine - 1]);
        Assert.Equal("|a|b|x%y|plain|", await TagText(ids[0]));
        Assert.Equal("|c|", await TagText(ids[1]));

        await migrator.MigrateAsync(migrations[^1]);
        Assert.Equal("|a%7Cb|x%25y|plain|", await TagText(ids[0]));
        Assert.Equal("|c|", await TagText(ids[1]));
    }
}

public sealed class SqliteTagFilterTests : TagFilterTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() =>
        Task.FromResult(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=tags.db" });
}

[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlTagFilterTests(PostgresServer postgres) : TagFilterTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() => postgres.StorageSettingsAsync();
}
