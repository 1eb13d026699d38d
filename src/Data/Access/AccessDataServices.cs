using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Taskdeck.Core;
using Taskdeck.Core.Access;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Access;

/// <summary>Settings of <c>Taskdeck:Auth:Lockout</c> and <c>Taskdeck:Auth:Passwords</c>.</summary>
public sealed class AccessStoreOptions
{
    /// <summary>Failed sign-ins in a row before an account is locked (<c>Taskdeck:Auth:Lockout:MaxFailures</c>, default 5).</summary>
    public int LockoutMaxFailures { get; init; } = 5;

    /// <summary>How long a lockout lasts (<c>Taskdeck:Auth:Lockout:Minutes</c>, default 15).</summary>
    public int LockoutMinutes { get; init; } = 15;

    /// <summary>Shortest password accepted (<c>Taskdeck:Auth:Passwords:MinLength</c>, default 10). Length, not character classes.</summary>
    public int PasswordMinLength { get; init; } = 10;

    public static AccessStoreOptions From(IConfiguration configuration) => new()
    {
        LockoutMaxFailures = Math.Max(1, configuration.GetValue("Taskdeck:Auth:Lockout:MaxFailures", 5)),
        LockoutMinutes = Math.Max(1, configuration.GetValue("Taskdeck:Auth:Lockout:Minutes", 15)),
        PasswordMinLength = Math.Max(6, configuration.GetValue("Taskdeck:Auth:Passwords:MinLength", 10)),
    };
}

public static class AccessDataServices
{
    /// <summary>
    /// Identity (users, roles, password hashing, lockout) and the API tokens on the configured provider. The console adds
    /// the sign-in side (cookies, <c>SignInManager</c>) on top of this; the store alone serves the command line too.
    /// </summary>
    public static IServiceCollection AddTaskdeckAccessStore(this IServiceCollection services, IConfiguration configuration, TaskdeckDatabase database)
    {
        switch (database.Provider)
        {
            case StorageProvider.Sqlite:
                services.AddDbContextFactory<SqliteAccessDbContext>(o => o.UseSqlite(database.ConnectionString, s => s.MigrationsHistoryTable(AccessDbContext.HistoryTable))
                    .AddInterceptors(NulFreeParameters.Instance));
                services.AddSingleton<IDbContextFactory<AccessDbContext>, Narrowed<SqliteAccessDbContext>>();
                break;
            case StorageProvider.PostgreSql:
                services.AddDbContextFactory<PostgreSqlAccessDbContext>(o => o.UseNpgsql(database.ConnectionString, s => s.MigrationsHistoryTable(AccessDbContext.HistoryTable))
                    .AddInterceptors(NulFreeParameters.Instance));
                services.AddSingleton<IDbContextFactory<AccessDbContext>, Narrowed<PostgreSqlAccessDbContext>>();
                break;
            case StorageProvider.SqlServer:
                services.AddDbContextFactory<SqlServerAccessDbContext>(o => o.UseSqlServer(database.ConnectionString, s => s.MigrationsHistoryTable(AccessDbContext.HistoryTable))
                    .AddInterceptors(NulFreeParameters.Instance));
                services.AddSingleton<IDbContextFactory<AccessDbContext>, Narrowed<SqlServerAccessDbContext>>();
                break;
        }
        services.AddScoped<AccessDbContext>(sp => sp.GetRequiredService<IDbContextFactory<AccessDbContext>>().CreateDbContext());

        var options = AccessStoreOptions.From(configuration);
        services.AddSingleton(options);
        services.AddIdentityCore<TaskdeckUser>(o =>
            {
                o.Password.RequiredLength = options.PasswordMinLength;
                o.Password.RequireDigit = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireNonAlphanumeric = false;
                o.Password.RequiredUniqueChars = 1;
                o.Lockout.AllowedForNewUsers = true;
                o.Lockout.MaxFailedAccessAttempts = options.LockoutMaxFailures;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(options.LockoutMinutes);
                o.User.RequireUniqueEmail = false;
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<AccessDbContext>();
        services.AddSingleton<IApiTokens, ApiTokens>();
        services.AddScoped<IUserAdmin, UserAdmin>();
        return services;
    }

    /// <summary>Applies the access context's migrations and makes sure the three roles exist (idempotent, safe on every node).</summary>
    internal static async Task MigrateAccessAsync(IServiceProvider services, CancellationToken ct)
    {
        var contexts = services.GetRequiredService<IDbContextFactory<AccessDbContext>>();
        await using (var db = await contexts.CreateDbContextAsync(ct)) await db.Database.MigrateAsync(ct);
        await using var scope = services.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        foreach (var role in AccessRoles.All)
        {
            if (await roles.RoleExistsAsync(role)) continue;
            string? error;
            try
            {
                var created = await roles.CreateAsync(new IdentityRole(role));
                error = created.Succeeded ? null : string.Join(" ", created.Errors.Select(e => e.Description));
            }
            catch (DbUpdateException e)
            {
                error = e.InnerException?.Message ?? e.Message;
            }
            // Another node starting at the same time may have created it (its unique name index refuses ours): only a
            // role still missing is an error.
            if (error is not null && !await RoleExistsFreshAsync(services, role, ct))
                throw new InvalidOperationException($"Could not create the {role} role: {error}");
        }
    }

    private static async Task<bool> RoleExistsFreshAsync(IServiceProvider services, string role, CancellationToken ct)
    {
        await using var db = await services.GetRequiredService<IDbContextFactory<AccessDbContext>>().CreateDbContextAsync(ct);
        var normalized = role.ToUpperInvariant();
        return await db.Roles.AnyAsync(r => r.NormalizedName == normalized, ct);
    }

    private sealed class Narrowed<TContext>(IDbContextFactory<TContext> inner) : IDbContextFactory<AccessDbContext> where TContext : AccessDbContext
    {
        public AccessDbContext CreateDbContext() => inner.CreateDbContext();
        public async Task<AccessDbContext> CreateDbContextAsync(CancellationToken ct = default) => await inner.CreateDbContextAsync(ct);
    }
}
