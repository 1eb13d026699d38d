namespace Taskdeck.Console.Api;

/// <summary>
/// Which requests are the API's, in one place. The variants differ on purpose: the API's own rules (body limits, the
/// cross-site checks, its exception handler) cover <c>/api</c> and <c>/v1</c>; errors of every machine endpoint
/// (also <c>/ws</c>, daggy's <c>/ready</c>, <c>/health</c>) are ProblemDetails; a refused sign-in is a status for those
/// and for Blazor's circuit, but the sign-in page for the API docs, which a person opens.
/// </summary>
public static class ApiPaths
{
    /// <summary>The Swagger UI: a page under <c>/api</c>.</summary>
    public const string Docs = "/api/docs";

    /// <summary><c>/api/**</c> and <c>/v1/**</c> (django-ray's, Taskdeck's and daggy's routes).</summary>
    public static bool IsApi(PathString path) => path.StartsWithSegments("/api") || path.StartsWithSegments("/v1");

    /// <summary>The API plus the other endpoints only programs call: <c>/ws</c>, <c>/ready</c>, <c>/health</c>.</summary>
    public static bool IsMachine(PathString path) =>
        IsApi(path) || path.StartsWithSegments("/ws") || path.StartsWithSegments("/ready") || path.StartsWithSegments("/health");

    /// <summary>
    /// Whether a refused request is answered with a status and a ProblemDetails (machine endpoints and Blazor's circuit)
    /// rather than sent to the sign-in page (every page, the API docs included).
    /// </summary>
    public static bool WantsProblem(PathString path) =>
        !path.StartsWithSegments(Docs) && (IsMachine(path) || path.StartsWithSegments("/_blazor"));
}
