using System.Security.Cryptography;

namespace Taskdeck.Console.CrossSite;

/// <summary>
/// Headers on every response. HTML (the console, its error page, Swagger UI, the Hangfire dashboard) gets a
/// Content-Security-Policy that Blazor Server and MudBlazor run under:
/// scripts only from this node, plus the one inline script Blazor renders (the import map) by a per-response nonce;
/// styles from this node and inline (MudBlazor sets style attributes and writes its theme as a style element);
/// connections only back to this node (the circuit's WebSocket); no framing, no plugins, forms post only here.
/// Anything else (JSON, files) gets a policy that allows nothing, should a browser ever render it as a document.
/// </summary>
public static class SecurityHeaders
{
    private const string NonceItem = "taskdeck.csp-nonce";

    /// <summary>The nonce of this response's inline scripts (App.razor puts it on the import map).</summary>
    public static string Nonce(HttpContext http)
    {
        if (http.Items[NonceItem] is string nonce) return nonce;
        // Hex: nothing for the HTML encoder to escape in the attribute, so the page carries the header's value byte for byte.
        nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        http.Items[NonceItem] = nonce;
        return nonce;
    }

    public static string PagePolicy(string nonce, HostString host)
    {
        // 'self' covers ws(s):// to this host in CSP 3; the explicit entries are for browsers that predate it.
        var sockets = host.HasValue ? $" ws://{host} wss://{host}" : "";
        return $"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            + $"font-src 'self' data:; connect-src 'self'{sockets}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";
    }

    public const string NonPagePolicy = "default-src 'none'; frame-ancestors 'none'";

    public static WebApplication UseTaskdeckSecurityHeaders(this WebApplication app)
    {
        app.Use((http, next) =>
        {
            // Set when the response starts, so error pages and every status code page get them too.
            http.Response.OnStarting(static state =>
            {
                var http = (HttpContext)state;
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.XFrameOptions = "DENY";
                var html = http.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true;
                headers.ContentSecurityPolicy = html ? PagePolicy(Nonce(http), http.Request.Host) : NonPagePolicy;
                return Task.CompletedTask;
            }, http);
            return next(http);
        });
        return app;
    }
}
