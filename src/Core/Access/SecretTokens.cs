using System.Security.Cryptography;
using System.Text;

namespace Taskdeck.Core.Access;

/// <summary>
/// Bearer secrets (API tokens, spawned workers' attempt tokens): 32 random bytes, base64url, after a prefix that tells
/// the kind at a glance (and in a leaked log). Only their SHA-256 is kept.
/// </summary>
public static class SecretTokens
{
    public static string New(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>SHA-256 of a secret, lower-case hex: what is stored and looked up.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
