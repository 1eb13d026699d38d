using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Net.Http.Headers;

namespace Taskdeck.Console.CrossSite;

/// <summary>
/// What stands between another web page and the API's state-changing routes (POST, PUT, PATCH, DELETE on <c>/api/**</c>
/// and <c>/v1/**</c>), checked before any body is read or any handler runs:
/// <list type="number">
/// <item>the three content types an HTML form (or a no-preflight <c>fetch</c>) can send — form-urlencoded, multipart, text/plain —
/// are refused with 415: the API takes JSON, or no body at all (django-ray's and daggy's cancel, retry, kill, restart);</item>
/// <item>a browser's <c>Origin</c> must be this node's own page or an allowed origin (<see cref="Origins"/>), else 403;</item>
/// <item>a call carrying the console's sign-in cookie and no <c>Authorization</c> header must carry an antiforgery token in
/// <c>X-XSRF-TOKEN</c> (from <c>GET /api/antiforgery/token</c>), else 400: the cookie alone proves only that a browser is
/// signed in, not that our page sent the request. Bearer-token and anonymous (no cookie) callers are not asked for one.</item>
/// </list>
/// <c>/ws/tasks</c> gets the <c>Origin</c> check before the upgrade (403), since a WebSocket handshake is never preflighted.
/// </summary>
public static class CrossSiteGuard
{
    /// <summary>The header a cookie-authenticated API call carries its antiforgery request token in.</summary>
    public const string AntiforgeryHeader = "X-XSRF-TOKEN";

    /// <summary>Media types a cross-site page can send without a CORS preflight (the Fetch standard's safelist).</summary>
    private static readonly string[] FormTypes = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

    public static async Task InvokeAsync(HttpContext http, Func<Task> next)
    {
        var request = http.Request;
        if (IsSocket(request))
        {
            if (http.RequestServices.GetRequiredService<Origins>().Refusal(request) is { } socketRefusal)
            {
                await WriteAsync(http, StatusCodes.Status403Forbidden, "Origin not allowed", socketRefusal, "Origin");
                return;
            }
        }
        else if (IsStateChangingApiCall(request))
        {
            if (FormType(request) is { } formType)
            {
                await WriteAsync(http, StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                    $"The API does not take {formType} bodies (what an HTML form sends): send JSON with \"Content-Type: application/json\", or no body.", "Content-Type");
                return;
            }
            if (http.RequestServices.GetRequiredService<Origins>().Refusal(request) is { } refusal)
            {
                await WriteAsync(http, StatusCodes.Status403Forbidden, "Origin not allowed", refusal, "Origin");
                return;
            }
            if (request.Cookies.ContainsKey(Auth.AuthSchemes.CookieName) && !request.Headers.ContainsKey(HeaderNames.Authorization)
                && !await http.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(http))
            {
                await WriteAsync(http, StatusCodes.Status400BadRequest, "Antiforgery token missing or invalid",
                    $"A call signed in with the console's cookie must carry the antiforgery token from GET {AntiforgeryApi.Route} in the {AntiforgeryHeader} header "
                    + "(or authenticate with \"Authorization: Bearer <API token>\" instead).", AntiforgeryHeader);
                return;
            }
        }
        await next();
    }

    private static bool IsSocket(HttpRequest request) => request.Path.StartsWithSegments(WorkTasks.WorkTasksApi.SocketRoute);

    private static bool IsStateChangingApiCall(HttpRequest request) =>
        (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method) || HttpMethods.IsPatch(request.Method) || HttpMethods.IsDelete(request.Method))
        && Api.ApiPaths.IsApi(request.Path);

    /// <summary>The form-like media type of the body, if it has one.</summary>
    private static string? FormType(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) || contentType.MediaType.Value is not { } mediaType) return null;
        return FormTypes.FirstOrDefault(t => string.Equals(t, mediaType.Trim(), StringComparison.OrdinalIgnoreCase));
    }

    private static Task WriteAsync(HttpContext http, int status, string title, string detail, string field) =>
        Api.Problems.WriteAsync(http, status, title, detail, ("field", field));
}
