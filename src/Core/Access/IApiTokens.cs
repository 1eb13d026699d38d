using Taskdeck.Core.Audit;

namespace Taskdeck.Core.Access;

/// <summary>
/// API tokens for automation (<c>Authorization: Bearer tdk_…</c>). The secret is returned once, by
/// <see cref="CreateAsync"/>, and stored only as its SHA-256; each token has a name, scopes from
/// <see cref="AccessScopes.All"/>, an optional expiry, the time it was last used, and can be revoked. Creating and
/// revoking are recorded in the audit trail as the given actor.
/// </summary>
public interface IApiTokens
{
    /// <summary>
    /// Creates a token. Throws <see cref="AccessRequestException"/> naming <c>name</c> (blank, longer than
    /// <see cref="ApiTokenInfo.MaxNameLength"/>, or the name of another active token), <c>scopes</c> (none, or one not in
    /// <see cref="AccessScopes.All"/>) or <c>expiresAt</c> (not in the future).
    /// </summary>
    Task<CreatedApiToken> CreateAsync(string name, IReadOnlyCollection<string> scopes, DateTimeOffset? expiresAt, Actor by, CancellationToken ct = default);

    /// <summary>Every token, active or not, newest first (never their secrets).</summary>
    Task<IReadOnlyList<ApiTokenInfo>> ListAsync(CancellationToken ct = default);

    Task<ApiTokenInfo?> FindAsync(long id, CancellationToken ct = default);

    /// <summary>Revokes a token at once; false when no such token exists or it was already revoked.</summary>
    Task<bool> RevokeAsync(long id, Actor by, CancellationToken ct = default);

    /// <summary>
    /// The active token whose secret this is (not revoked, not expired), with its last-used time brought up to date;
    /// null for anything else. Used by the bearer authentication handler on every request that presents one.
    /// </summary>
    Task<ApiTokenInfo?> AuthenticateAsync(string secret, CancellationToken ct = default);
}

/// <summary>A token as it may be shown: never its secret; <see cref="Prefix"/> (the first characters) tells tokens apart.</summary>
public sealed record ApiTokenInfo(
    long Id,
    string Name,
    IReadOnlyList<string> Scopes,
    string Prefix,
    DateTimeOffset CreatedAt,
    string CreatedBy,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? RevokedAt)
{
    public const int MaxNameLength = 100;

    /// <summary>What every secret starts with, so a bearer credential is known for a Taskdeck API token at a glance.</summary>
    public const string SecretPrefix = "tdk_";

    public bool IsActive(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is null || ExpiresAt > now);
}

/// <summary>A new token and its secret: the only time the secret is ever available.</summary>
public sealed record CreatedApiToken(ApiTokenInfo Token, string Secret);
