using System.Text.Json.Nodes;
using Taskdeck.Core.Secrets;

namespace Taskdeck.Unit.Secrets;

public sealed class SecretTextTests
{
    private static readonly SecretOptions Options = new() { Values = { ["DB"] = "pw-1" } };

    [Theory]
    [InlineData("AWS_SECRET_ACCESS_KEY", true)]
    [InlineData("github_token", true)]
    [InlineData("DB_PASSWORD", true)]
    [InlineData("SSH_KEY_PATH", true)]
    [InlineData("secret", true)]
    [InlineData("REGION", false)]
    [InlineData("MONKEY", true)] // *KEY* is a substring pattern: better one name too many than a secret shown
    [InlineData("PATH", false)]
    public void NamePatterns_MatchAnywhere_IgnoringCase(string name, bool secret) => Assert.Equal(secret, SecretText.LooksSecret(Options, name));

    [Fact]
    public void ConfiguredPattern_AddsToTheDefaults()
    {
        var options = new SecretOptions();
        options.NamePatterns.Add("DSN");
        Assert.True(SecretText.LooksSecret(options, "dsn"));
        Assert.False(SecretText.LooksSecret(options, "SENTRY_DSN"));
        Assert.True(SecretText.LooksSecret(options, "API_KEY"));
    }

    [Fact]
    public void APatternAddedAfterTheFirstMatch_IsHonouredToo()
    {
        var options = new SecretOptions();
        Assert.False(SecretText.LooksSecret(options, "DSN"));
        options.NamePatterns.Add("DSN");
        Assert.True(SecretText.LooksSecret(options, "dsn"));
        options.NamePatterns = ["*PASS*"];
        Assert.False(SecretText.LooksSecret(options, "API_KEY"));
        Assert.True(SecretText.LooksSecret(options, "db_passphrase"));
    }

    [Fact]
    public void EnvironmentEntries_AreMasked_ReferencesAndOtherNamesKept()
    {
        Assert.Equal(["API_KEY=***", "TOKEN={{secret:DB}}", "MODE=a=b", "BROKEN"],
            SecretText.RedactEnvironment(Options, ["API_KEY=abc", "TOKEN={{secret:DB}}", "MODE=a=b", "BROKEN"]));
    }

    [Fact]
    public void WorkTaskSpec_MasksSecretLookingPropertiesAndEntries_AtAnyDepth()
    {
        var redacted = SecretText.RedactJson(Options, """{"image":"x","password":"p1","env":{"S3_SECRET":"p2","N":1},"args":["--x","DB_PASSWORD=p3"],"nested":[{"apiKey":"p4"}]}""")!;
        foreach (var value in new[] { "p1", "p2", "p3", "p4" }) Assert.DoesNotContain($"\"{value}\"", redacted);
        var node = JsonNode.Parse(redacted)!;
        Assert.Equal("***", node["password"]!.GetValue<string>());
        Assert.Equal("DB_PASSWORD=***", node["args"]![1]!.GetValue<string>());
        Assert.Equal(1, node["env"]!["N"]!.GetValue<int>());
        Assert.Equal("x", node["image"]!.GetValue<string>());
    }

    [Fact]
    public void References_ResolveOnlyKnownNames()
    {
        Assert.Equal("u:pw-1@h", SecretText.Resolve(Options, "u:{{secret:DB}}@h"));
        Assert.Equal("NOPE", SecretText.FirstUnknown(Options, ["{{secret:DB}}", "x {{ secret:NOPE }}"]));
        Assert.Null(SecretText.FirstUnknown(Options, ["{{secret:DB}}", "{{N}}"]));
        Assert.Throws<KeyNotFoundException>(() => SecretText.Resolve(Options, "{{secret:NOPE}}"));
    }
}
