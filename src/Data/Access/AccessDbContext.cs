using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Taskdeck.Data.Access;

/// <summary>A person who signs in with a name and password; their one role is an Identity role (Viewer, Operator, Admin).</summary>
public sealed class TaskdeckUser : IdentityUser
{
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>An API token as stored: the SHA-256 of its secret, never the secret.</summary>
public sealed class ApiTokenRow
{
    public long Id { get; set; }
    public string Name { get; set; } = "";
    /// <summary>Space-separated scopes (<c>read operate</c>).</summary>
    public string Scopes { get; set; } = "";
    /// <summary>The secret's first characters, to tell tokens apart in a list.</summary>
    public string Prefix { get; set; } = "";
    /// <summary>SHA-256 of the secret, lower-case hex.</summary>
    public string Hash { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public string CreatedBy { get; set; } = "";
    public DateTimeOffset? ExpiresAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>
/// Who may sign in: ASP.NET Core Identity's tables and the API tokens, in Taskdeck's database beside the engine's
/// tables but in a context of its own, with its own migrations (<c>Migrations/Access/&lt;Provider&gt;</c>) and its own
/// history table, so the engine's migrations and the identity schema move independently. Times are microseconds since
/// the Unix epoch, as in the engine's context, so they compare the same way on every provider.
/// </summary>
public abstract class AccessDbContext(DbContextOptions options) : IdentityDbContext<TaskdeckUser>(options)
{
    public const string HistoryTable = "__TaskdeckAccessMigrations";

    public DbSet<ApiTokenRow> ApiTokens => Set<ApiTokenRow>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configuration)
    {
        configuration.Properties<DateTimeOffset>().HaveConversion<Storage.TaskdeckDbContext.UnixMicrosecondsConverter>();
    }

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.Entity<ApiTokenRow>(e =>
        {
            e.ToTable("ApiTokens");
            e.HasKey(x => x.Id);
            e.Property(x => x.Name).HasMaxLength(Core.Access.ApiTokenInfo.MaxNameLength).IsRequired();
            e.Property(x => x.Scopes).HasMaxLength(200).IsRequired();
            e.Property(x => x.Prefix).HasMaxLength(16).IsRequired();
            e.Property(x => x.Hash).HasMaxLength(64).IsRequired();
            e.Property(x => x.CreatedBy).HasMaxLength(256).IsRequired();
            e.HasIndex(x => x.Hash).IsUnique();
            e.HasIndex(x => x.Name);
        });
    }
}

public sealed class SqliteAccessDbContext(DbContextOptions<SqliteAccessDbContext> options) : AccessDbContext(options);

public sealed class PostgreSqlAccessDbContext(DbContextOptions<PostgreSqlAccessDbContext> options) : AccessDbContext(options);

public sealed class SqlServerAccessDbContext(DbContextOptions<SqlServerAccessDbContext> options) : AccessDbContext(options);

// Design-time factories: `dotnet ef migrations add X --context <Provider>AccessDbContext --output-dir Migrations/Access/<Provider>`.
internal sealed class SqliteAccessDesignTimeFactory : IDesignTimeDbContextFactory<SqliteAccessDbContext>
{
    public SqliteAccessDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<SqliteAccessDbContext>()
        .UseSqlite("Data Source=design.db", o => o.MigrationsHistoryTable(AccessDbContext.HistoryTable)).Options);
}

internal sealed class PostgreSqlAccessDesignTimeFactory : IDesignTimeDbContextFactory<PostgreSqlAccessDbContext>
{
    public PostgreSqlAccessDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<PostgreSqlAccessDbContext>()
        .UseNpgsql("Host=localhost;Database=taskdeck", o => o.MigrationsHistoryTable(AccessDbContext.HistoryTable)).Options);
}

internal sealed class SqlServerAccessDesignTimeFactory : IDesignTimeDbContextFactory<SqlServerAccessDbContext>
{
    public SqlServerAccessDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<SqlServerAccessDbContext>()
        .UseSqlServer("Server=localhost;Database=taskdeck;TrustServerCertificate=true", o => o.MigrationsHistoryTable(AccessDbContext.HistoryTable)).Options);
}
