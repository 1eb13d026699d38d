using Taskdeck.Console.Api;

namespace Taskdeck.Console.Auth;

/// <summary>How a refusal is answered: a ProblemDetails for API callers (<see cref="ApiPaths.WantsProblem"/>), the sign-in page for people.</summary>
public static class AuthResponses
{
    public const string LoginPath = "/login";
    public const string DeniedPath = "/access-denied";

    public static Task UnauthorizedAsync(HttpContext http, string detail)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return WriteAsync(http, StatusCodes.Status401Unauthorized, "Unauthorized", detail);
    }

    public static Task ForbiddenAsync(HttpContext http, string detail) => WriteAsync(http, StatusCodes.Status403Forbidden, "Forbidden", detail);

    /// <summary>The page a person is sent to: sign in, then come back here.</summary>
    public static string LoginRedirect(HttpContext http) =>
        $"{LoginPath}?ReturnUrl={Uri.EscapeDataString(http.Request.PathBase + http.Request.Path + http.Request.QueryString)}";

    public static string DeniedRedirect(HttpContext http) =>
        $"{DeniedPath}?ReturnUrl={Uri.EscapeDataString(http.Request.PathBase + http.Request.Path + http.Request.QueryString)}";

    private static Task WriteAsync(HttpContext http, int status, string title, string detail) =>
        Problems.WriteAsync(http, status, title, detail, ("field", "Authorization"));

    public const string NoCredentials =
        "Sign in first: send \"Authorization: Bearer <API token>\" (the console's Tokens page or `-- tokens create`), or use the console's sign-in cookie.";
}
