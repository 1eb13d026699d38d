using Microsoft.Extensions.Options;

namespace Taskdeck.Console.CrossSite;

/// <summary>
/// Which browser pages may act on this node. A browser names the page a request comes from in <c>Origin</c> (on every
/// POST, PUT, PATCH, DELETE and WebSocket handshake); curl, daggy's and django-ray's clients and workers send none.
/// A request with no <c>Origin</c> is therefore not a browser's cross-site request and passes; one with an <c>Origin</c>
/// must be this node's own page (the host the request was sent to) or one of <see cref="CrossSiteOptions.AllowedOrigins"/>.
/// </summary>
public sealed class Origins(IOptions<CrossSiteOptions> options)
{
    private readonly HashSet<string> _allowed = options.Value.AllowedOrigins
        .Select(o => TryParse(o, out var origin) ? origin : null)
        .OfType<string>()
        .ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Null when the request may proceed, else why not (for the ProblemDetails).</summary>
    public string? Refusal(HttpRequest request)
    {
        if (!request.Headers.TryGetValue("Origin", out var values)) return null;
        var presented = values.ToString();
        if (!TryParse(presented, out var origin))
            return $"Requests from the page origin \"{presented}\" are refused (an opaque or malformed origin).";
        if (IsSameHost(origin, request.Host) || _allowed.Contains(origin)) return null;
        return $"Requests from pages of {origin} are refused: only this node's own pages (host {request.Host}) and the origins in "
            + $"{CrossSiteOptions.Key(nameof(CrossSiteOptions.AllowedOrigins))} may do this.";
    }

    /// <summary>
    /// The page was served by the host the request is addressed to. Scheme is not compared: behind a TLS-terminating
    /// proxy the page is https while the request reaches Kestrel as http; host and port are what a rebinding or a
    /// foreign page cannot fake (host filtering has already checked the Host header).
    /// </summary>
    private static bool IsSameHost(string origin, HostString host)
    {
        if (!host.HasValue) return false;
        var uri = new Uri(origin);
        var requestPort = host.Port ?? (uri.Scheme == Uri.UriSchemeHttps ? 443 : 80);
        return string.Equals(uri.IdnHost.Trim('[', ']'), host.Host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase) && uri.Port == requestPort;
    }

    /// <summary>A serialized origin (<c>scheme://host[:port]</c>, http or https, nothing after the authority), normalized.</summary>
    public static bool TryParse(string? value, out string origin)
    {
        origin = "";
        if (string.IsNullOrWhiteSpace(value) || !Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri)) return false;
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) return false;
        if (uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo)) return false;
        if (value.TrimEnd().EndsWith('/')) return false;
        origin = uri.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
        return true;
    }
}
