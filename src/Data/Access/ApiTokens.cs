using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Access;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Limits;

namespace Taskdeck.Data.Access;

/// <summary><see cref="IApiTokens"/> on the access context: secrets are random, shown once, kept as SHA-256.</summary>
public sealed class ApiTokens(IDbContextFactory<AccessDbContext> contexts, IAuditTrail audit, TimeProvider time) : IApiTokens
{
    /// <summary>Last-used times are written at most this often per token, so a busy client does not write on every call.</summary>
    public static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<CreatedApiToken> CreateAsync(string name, IReadOnlyCollection<string> scopes, DateTimeOffset? expiresAt, Actor by, CancellationToken ct = default)
    {
        name = (name ?? "").Trim();
        if (name.Length == 0) throw new AccessRequestException("name", "A token needs a name.");
        if (TextRules.NameProblem(name, ApiTokenInfo.MaxNameLength, "A token's name") is { } nameProblem) throw new AccessRequestException("name", nameProblem);
        var wanted = (scopes ?? []).Select(s => (s ?? "").Trim().ToLowerInvariant()).Where(s => s.Length > 0).Distinct().ToList();
        if (wanted.Count == 0) throw new AccessRequestException("scopes", $"A token needs at least one scope: {string.Join(", ", AccessScopes.All)}.");
        if (wanted.FirstOrDefault(s => !AccessScopes.IsKnown(s)) is { } unknown)
            throw new AccessRequestException("scopes", $"Unknown scope '{unknown}': use {string.Join(", ", AccessScopes.All)}.");
        var now = time.GetUtcNow();
        if (expiresAt is { } expiry && expiry <= now) throw new AccessRequestException("expiresAt", "The expiry must be in the future.");

        await using var db = await contexts.CreateDbContextAsync(ct);
        var sameName = await db.ApiTokens.Where(t => t.Name == name && t.RevokedAt == null).ToListAsync(ct);
        if (sameName.Any(t => t.ExpiresAt is null || t.ExpiresAt > now))
            throw new AccessRequestException("name", $"An active token is already named '{name}': revoke it first or choose another name.");

        var secret = SecretTokens.New(ApiTokenInfo.SecretPrefix);
        var row = new ApiTokenRow
        {
            Name = name,
            Scopes = string.Join(' ', AccessScopes.All.Where(wanted.Contains)),
            Prefix = secret[..12],
            Hash = SecretTokens.Hash(secret),
            CreatedAt = now,
            CreatedBy = by.Name,
            ExpiresAt = expiresAt,
        };
        db.ApiTokens.Add(row);
        await db.SaveChangesAsync(ct);
        var info = Info(row);
        await audit.RecordAsync(new AuditRecord(by, AuditActions.CreateToken, AuditOutcome.Applied)
        {
            RecordType = AuditRecordTypes.Token, RecordIds = [row.Id.ToString()], Count = 1,
            Reason = $"{name}: {string.Join(',', info.Scopes)}" + (expiresAt is { } e ? $", expires {e:u}" : ""),
        }, ct);
        return new CreatedApiToken(info, secret);
    }

    public async Task<IReadOnlyList<ApiTokenInfo>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.ApiTokens.AsNoTracking().OrderByDescending(t => t.Id).ToListAsync(ct);
        return rows.Select(Info).ToList();
    }

    public async Task<ApiTokenInfo?> FindAsync(long id, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.ApiTokens.AsNoTracking().FirstOrDefaultAsync(t => t.Id == id, ct) is { } row ? Info(row) : null;
    }

    public async Task<bool> RevokeAsync(long id, Actor by, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var now = time.GetUtcNow();
        var revoked = await db.ApiTokens.Where(t => t.Id == id && t.RevokedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.RevokedAt, now), ct) == 1;
        var name = await db.ApiTokens.Where(t => t.Id == id).Select(t => t.Name).FirstOrDefaultAsync(ct);
        await audit.RecordAsync(new AuditRecord(by, AuditActions.RevokeToken, revoked ? AuditOutcome.Applied : AuditOutcome.Refused)
        {
            RecordType = AuditRecordTypes.Token, RecordIds = [id.ToString()], Count = revoked ? 1 : 0,
            Reason = revoked ? name : name is null ? "no such token" : $"{name}: already revoked",
        }, ct);
        return revoked;
    }

    public async Task<ApiTokenInfo?> AuthenticateAsync(string secret, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(secret) || !secret.StartsWith(ApiTokenInfo.SecretPrefix, StringComparison.Ordinal) || secret.Length > 200) return null;
        var hash = SecretTokens.Hash(secret);
        await using var db = await contexts.CreateDbContextAsync(ct);
        var row = await db.ApiTokens.AsNoTracking().FirstOrDefaultAsync(t => t.Hash == hash, ct);
        var now = time.GetUtcNow();
        if (row is null || !Info(row).IsActive(now)) return null;
        if (row.LastUsedAt is not { } last || now - last >= LastUsedResolution)
        {
            var before = now - LastUsedResolution;
            // Only the first request in a resolution window writes; the others see the fresh time and skip.
            await db.ApiTokens.Where(t => t.Id == row.Id && (t.LastUsedAt == null || t.LastUsedAt <= before))
                .ExecuteUpdateAsync(set => set.SetProperty(t => t.LastUsedAt, now), ct);
            row.LastUsedAt = now;
        }
        return Info(row);
    }

    private static ApiTokenInfo Info(ApiTokenRow row) => new(row.Id, row.Name, row.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries), row.Prefix,
        row.CreatedAt, row.CreatedBy, row.ExpiresAt, row.LastUsedAt, row.RevokedAt);
}
