using Microsoft.AspNetCore.Http.HttpResults;
using Taskdeck.Console.Api;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Auth;
using Taskdeck.Core.Access;

namespace Taskdeck.Console.Admin;

/// <summary>
/// <c>/api/admin/users</c> and <c>/api/admin/tokens</c> (Admin): people and API tokens, over Core's
/// <see cref="IUserAdmin"/> and <see cref="IApiTokens"/>, which refuse bad input naming the field and record each
/// change in the audit trail as the calling principal.
/// </summary>
public static class AdminApi
{
    public const string UsersRoute = "/api/admin/users";
    public const string TokensRoute = "/api/admin/tokens";

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var users = endpoints.MapGroup(UsersRoute).WithTags("Admin").RequireAuthorization(Policies.Admin);
        users.MapGet("/", ListUsersAsync).WithName("ListUsers").WithSummary("Every user, with role and lockout");
        users.MapPost("/", CreateUserAsync).WithName("CreateUser").WithSummary("Add a user with a role and an initial password");
        users.MapGet("/{name}", GetUserAsync).WithName("GetUser").WithSummary("A user by name");
        users.MapPatch("/{name}", UpdateUserAsync).WithName("UpdateUser").WithSummary("Change a user's role and/or set a new password (ends a lockout)");
        users.MapDelete("/{name}", DeleteUserAsync).WithName("DeleteUser").WithSummary("Delete a user (never the last admin)");

        var tokens = endpoints.MapGroup(TokensRoute).WithTags("Admin").RequireAuthorization(Policies.Admin);
        tokens.MapGet("/", ListTokensAsync).WithName("ListTokens").WithSummary("Every API token, active or not (never a secret)");
        tokens.MapPost("/", CreateTokenAsync).WithName("CreateToken").WithSummary("Create an API token: its secret is in this answer and nowhere else, ever");
        tokens.MapGet("/{id:long}", GetTokenAsync).WithName("GetToken").WithSummary("A token by id");
        tokens.MapDelete("/{id:long}", RevokeTokenAsync).WithName("RevokeToken").WithSummary("Revoke a token at once");
        return endpoints;
    }

    public static async Task<Ok<List<UserDto>>> ListUsersAsync(IUserAdmin users, CancellationToken ct) =>
        TypedResults.Ok((await users.ListAsync(ct)).Select(UserDto.From).ToList());

    public static async Task<Results<Ok<UserDto>, ProblemHttpResult>> GetUserAsync(string name, IUserAdmin users, CancellationToken ct) =>
        await users.FindAsync(name, ct) is { } user ? TypedResults.Ok(UserDto.From(user)) : Problems.NotFound($"No user is named \"{name}\".", "user");

    public static async Task<Results<Created<UserDto>, ProblemHttpResult>> CreateUserAsync(NewUserRequest? body, IUserAdmin users, HttpContext http, CancellationToken ct)
    {
        if (body is null) return Problems.BadRequest("body", "Send a JSON object: {\"name\": …, \"role\": \"Viewer|Operator|Admin\", \"password\": …}.");
        try
        {
            var user = await users.AddAsync(body.Name ?? "", body.Password ?? "", body.Role ?? "", http.Actor(), ct);
            return TypedResults.Created($"{UsersRoute}/{Uri.EscapeDataString(user.Name)}", UserDto.From(user));
        }
        catch (AccessRequestException e) { return Problems.BadRequest(e.Field, e.Message); }
    }

    public static async Task<Results<Ok<UserDto>, ProblemHttpResult>> UpdateUserAsync(string name, UserChangeRequest? body, IUserAdmin users, HttpContext http, CancellationToken ct)
    {
        if (body is null || (body.Role is null && body.Password is null))
            return Problems.BadRequest("body", "Send {\"role\": \"Viewer|Operator|Admin\"} and/or {\"password\": …}.");
        if (await users.FindAsync(name, ct) is not { } user) return Problems.NotFound($"No user is named \"{name}\".", "user");
        try
        {
            if (body.Role is not null) user = await users.SetRoleAsync(name, body.Role, http.Actor(), ct);
            if (body.Password is null) return TypedResults.Ok(UserDto.From(user));
            // A new password also ends a lockout, which the user's info shows.
            await users.SetPasswordAsync(name, body.Password, http.Actor(), ct);
        }
        catch (AccessRequestException e) { return Problems.BadRequest(e.Field, e.Message); }
        return await users.FindAsync(name, ct) is { } changed ? TypedResults.Ok(UserDto.From(changed)) : Problems.NotFound($"No user is named \"{name}\".", "user");
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteUserAsync(string name, IUserAdmin users, HttpContext http, CancellationToken ct)
    {
        try
        {
            return await users.DeleteAsync(name, http.Actor(), ct) ? TypedResults.NoContent() : Problems.NotFound($"No user is named \"{name}\".", "user");
        }
        catch (AccessRequestException e) { return Problems.Make(StatusCodes.Status409Conflict, "Conflict", e.Message, ("field", e.Field)); }
    }

    public static async Task<Ok<List<TokenDto>>> ListTokensAsync(IApiTokens tokens, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        return TypedResults.Ok((await tokens.ListAsync(ct)).Select(t => TokenDto.From(t, now)).ToList());
    }

    public static async Task<Results<Ok<TokenDto>, ProblemHttpResult>> GetTokenAsync(long id, IApiTokens tokens, TimeProvider time, CancellationToken ct) =>
        await tokens.FindAsync(id, ct) is { } token ? TypedResults.Ok(TokenDto.From(token, time.GetUtcNow())) : Problems.NotFound($"No API token has id {id}.", "token");

    public static async Task<Results<Created<CreatedTokenDto>, ProblemHttpResult>> CreateTokenAsync(NewTokenRequest? body, IApiTokens tokens, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (body is null) return Problems.BadRequest("body", "Send a JSON object: {\"name\": …, \"scopes\": [\"read\", …], \"expiresAt\": null}.");
        try
        {
            var created = await tokens.CreateAsync(body.Name ?? "", body.Scopes ?? [], body.ExpiresAt, http.Actor(), ct);
            return TypedResults.Created($"{TokensRoute}/{created.Token.Id}", new CreatedTokenDto(TokenDto.From(created.Token, time.GetUtcNow()), created.Secret));
        }
        catch (AccessRequestException e) { return Problems.BadRequest(e.Field, e.Message); }
    }

    public static async Task<Results<Ok<TokenDto>, ProblemHttpResult>> RevokeTokenAsync(long id, IApiTokens tokens, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (await tokens.FindAsync(id, ct) is not { } token) return Problems.NotFound($"No API token has id {id}.", "token");
        // An already revoked token is answered without a second (refused) audit entry; RevokeAsync's false is the lost race.
        if (token.RevokedAt is not null || !await tokens.RevokeAsync(id, http.Actor(), ct))
            return Problems.Conflict($"Token {id} ({token.Name}) was already revoked.", "revoked");
        return TypedResults.Ok(TokenDto.From((await tokens.FindAsync(id, ct))!, time.GetUtcNow()));
    }
}

public sealed record NewUserRequest(string? Name, string? Password, string? Role);

public sealed record UserChangeRequest(string? Role, string? Password);

public sealed record UserDto(string Id, string Name, string Role, DateTimeOffset? LockedOutUntil, int FailedSignIns)
{
    public static UserDto From(UserInfo u) => new(u.Id, u.Name, u.Role, u.LockedOutUntil, u.FailedSignIns);
}

public sealed record NewTokenRequest(string? Name, List<string>? Scopes, DateTimeOffset? ExpiresAt);

public sealed record TokenDto(long Id, string Name, IReadOnlyList<string> Scopes, string Prefix, DateTimeOffset CreatedAt, string CreatedBy,
    DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, bool Active)
{
    public static TokenDto From(ApiTokenInfo t, DateTimeOffset now) =>
        new(t.Id, t.Name, t.Scopes, t.Prefix, t.CreatedAt, t.CreatedBy, t.ExpiresAt, t.LastUsedAt, t.RevokedAt, t.IsActive(now));
}

/// <summary>The only answer that ever holds the token's secret.</summary>
public sealed record CreatedTokenDto(TokenDto Token, string Secret);
