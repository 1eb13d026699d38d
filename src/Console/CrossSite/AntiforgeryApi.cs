using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Taskdeck.Console.CrossSite;

/// <summary>
/// <c>GET /api/antiforgery/token</c>: a request token (and its cookie) for a script of this node's own pages that calls the
/// API with the console's sign-in cookie. Another site's page cannot read the answer (no CORS), so it cannot get one.
/// </summary>
public static class AntiforgeryApi
{
    public const string Route = "/api/antiforgery/token";

    public static IEndpointRouteBuilder MapAntiforgeryApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Route, Issue).WithTags("Antiforgery").WithName("AntiforgeryToken")
            .WithSummary($"An antiforgery token for cookie-authenticated API calls: send it in the {CrossSiteGuard.AntiforgeryHeader} header");
        return endpoints;
    }

    public static Ok<AntiforgeryTokenDto> Issue(HttpContext http, IAntiforgery antiforgery)
    {
        var tokens = antiforgery.GetAndStoreTokens(http);
        return TypedResults.Ok(new AntiforgeryTokenDto(tokens.HeaderName ?? CrossSiteGuard.AntiforgeryHeader, tokens.RequestToken!));
    }
}

public sealed record AntiforgeryTokenDto(string HeaderName, string RequestToken);
