using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Taskdeck.Console.Api;
using Taskdeck.Core.Audit;
using Taskdeck.Data.Audit;

namespace Taskdeck.Console.Audit;

/// <summary><c>GET /api/audit</c>: the audit trail, newest first, filtered and paged in the database.</summary>
public static class AuditApi
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder endpoints)
    {
        var audit = endpoints.MapGroup("/api/audit").WithTags("Audit").RequireAuthorization(Auth.Policies.Admin);
        audit.MapGet("/", ListAsync).WithName("ListAuditEntries")
            .WithSummary("Who did what: every state-changing act, newest first")
            .WithDescription("Filters: actor (exact name), kind (User, ApiToken, Anonymous, System), action (exact, or a prefix ending in '.' such as " +
                             "'execution.'), recordType, recordId, outcome (Applied, Refused, Partial), from/to (ISO 8601, to exclusive). " +
                             $"Paging: page (from 1) and pageSize (1–{MaxPageSize}, default {DefaultPageSize}).");
        return endpoints;
    }

    /// <summary>The query string of <c>GET /api/audit</c>; every field optional.</summary>
    public sealed record AuditQuery
    {
        [FromQuery(Name = "actor")] public string? Actor { get; init; }
        [FromQuery(Name = "kind")] public string? Kind { get; init; }
        [FromQuery(Name = "action")] public string? Action { get; init; }
        [FromQuery(Name = "recordType")] public string? RecordType { get; init; }
        [FromQuery(Name = "recordId")] public string? RecordId { get; init; }
        [FromQuery(Name = "outcome")] public string? Outcome { get; init; }
        [FromQuery(Name = "from")] public string? From { get; init; }
        [FromQuery(Name = "to")] public string? To { get; init; }
        [FromQuery(Name = "page")] public string? Page { get; init; }
        [FromQuery(Name = "pageSize")] public string? PageSize { get; init; }
    }

    public static async Task<Results<Ok<AuditPageDto>, ProblemHttpResult>> ListAsync([AsParameters] AuditQuery query, AuditQueries audit, CancellationToken ct)
    {
        if (!TryInt(query.Page, 1, out var page) || page < 1) return Problems.BadRequest("page", "Must be a whole number of 1 or more.");
        if (!TryInt(query.PageSize, DefaultPageSize, out var size) || size is < 1 or > MaxPageSize)
            return Problems.BadRequest("pageSize", $"Must be a whole number between 1 and {MaxPageSize}.");
        if (!TryEnum<ActorKind>(query.Kind, out var kind)) return Problems.BadRequest("kind", "Use User, ApiToken, Anonymous or System.");
        if (!TryEnum<AuditOutcome>(query.Outcome, out var outcome)) return Problems.BadRequest("outcome", "Use Applied, Refused or Partial.");
        if (!TryTime(query.From, out var from)) return Problems.BadRequest("from", "Must be an ISO 8601 time, such as 2026-12-02T09:00:00Z.");
        if (!TryTime(query.To, out var to)) return Problems.BadRequest("to", "Must be an ISO 8601 time, such as 2026-12-02T18:00:00Z.");
        if (from is { } f && to is { } t && t <= f) return Problems.BadRequest("to", "Must be later than from.");
        if ((long)(page - 1) * size > int.MaxValue) return Problems.BadRequest("page", "Is past any possible last page.");

        var filter = new AuditFilter
        {
            Actor = Blank(query.Actor), ActorKind = kind, Action = Blank(query.Action), RecordType = Blank(query.RecordType), RecordId = Blank(query.RecordId),
            Outcome = outcome, From = from, To = to,
        };
        var result = await audit.PageAsync(filter, (page - 1) * size, size, ct);
        return TypedResults.Ok(new AuditPageDto(result.Items.Select(AuditEntryDto.From).ToList(), result.Total, page, size,
            (long)page * size < result.Total));
    }

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    private static bool TryInt(string? text, int fallback, out int value)
    {
        if (string.IsNullOrWhiteSpace(text)) { value = fallback; return true; }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool TryEnum<T>(string? text, out T? value) where T : struct, Enum
    {
        value = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (int.TryParse(text, out _) || !Enum.TryParse<T>(text.Trim(), ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed)) return false;
        value = parsed;
        return true;
    }

    private static bool TryTime(string? text, out DateTimeOffset? value)
    {
        value = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)) return false;
        value = parsed;
        return true;
    }
}

public sealed record AuditPageDto(
    [property: JsonPropertyName("items")] IReadOnlyList<AuditEntryDto> Items,
    [property: JsonPropertyName("total")] int Total,
    [property: JsonPropertyName("page")] int Page,
    [property: JsonPropertyName("pageSize")] int PageSize,
    [property: JsonPropertyName("hasMore")] bool HasMore);

/// <summary>One act: who (name and kind), what, which records or filter, how many, how it ended, when, from where.</summary>
public sealed record AuditEntryDto(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("actor")] string Actor,
    [property: JsonPropertyName("actorKind")] ActorKind ActorKind,
    [property: JsonPropertyName("address")] string? Address,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("recordType")] string? RecordType,
    [property: JsonPropertyName("recordIds")] IReadOnlyList<string> RecordIds,
    [property: JsonPropertyName("filter")] string? Filter,
    [property: JsonPropertyName("count")] int Count,
    [property: JsonPropertyName("outcome")] AuditOutcome Outcome,
    [property: JsonPropertyName("reason")] string? Reason)
{
    public static AuditEntryDto From(AuditEntry e) =>
        new(e.Id, e.At, e.ActorName, e.ActorKind, e.Address, e.Action, e.RecordType, e.Ids, e.Filter, e.Count, e.Outcome, e.Reason);
}
