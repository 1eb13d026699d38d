using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Taskdeck.Console.CrossSite;

namespace Taskdeck.Unit.Hardening;

/// <summary>The origin rules on their own: same host and port, the configured list, and a start refused for a bad entry.</summary>
public sealed class OriginsTests
{
    private static Origins With(params string[] allowed) => new(Options.Create(new CrossSiteOptions { AllowedOrigins = allowed }));

    private static HttpRequest Request(string host, string? origin)
    {
        var http = new DefaultHttpContext();
        http.Request.Host = new HostString(host);
        if (origin is not null) http.Request.Headers.Origin = origin;
        return http.Request;
    }

    [Theory]
    [InlineData("localhost:5066", null)]
    [InlineData("localhost:5066", "http://localhost:5066")]
    [InlineData("localhost:5066", "https://LOCALHOST:5066")]
    [InlineData("127.0.0.1:5066", "http://127.0.0.1:5066")]
    [InlineData("[::1]:5066", "http://[::1]:5066")]
    [InlineData("taskdeck.example", "https://taskdeck.example")] // TLS ends at a proxy: the page is https, Kestrel sees http
    [InlineData("localhost:5066", "https://platform.example.com")]
    public void Allowed(string host, string? origin) => Assert.Null(With("https://platform.example.com").Refusal(Request(host, origin)));

    [Theory]
    [InlineData("localhost:5066", "http://localhost:5067")]
    [InlineData("localhost:5066", "http://127.0.0.1:5066")]
    [InlineData("localhost:5066", "http://evil.example")]
    [InlineData("localhost:5066", "https://platform.example.com:8443")]
    [InlineData("localhost:5066", "null")]
    [InlineData("localhost:5066", "file://")]
    public void Refused(string host, string origin) => Assert.NotNull(With("https://platform.example.com").Refusal(Request(host, origin)));

    [Theory]
    [InlineData("platform.example.com")]
    [InlineData("https://platform.example.com/dashboard")]
    [InlineData("ftp://platform.example.com")]
    [InlineData("*")]
    public void ABadAllowedOrigin_StopsTheStart_NamingTheSetting(string value)
    {
        var result = new ValidateCrossSiteOptions().Validate(null, new CrossSiteOptions { AllowedOrigins = ["https://ok.example", value] });
        Assert.True(result.Failed);
        Assert.Contains("Taskdeck:Auth:AllowedOrigins:1", result.FailureMessage);
    }
}
