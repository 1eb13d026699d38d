using Taskdeck.Console.Auth;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Taskdeck.Console.Api;
using Taskdeck.Console.Audit;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Schedules;

namespace Taskdeck.Console.Schedules;

/// <summary>
/// <c>/api/schedules</c>: recurring runs of a handler task, a command or a DAG. A schedule is addressed by its name
/// (the name its runs carry: <c>/api/executions?schedule=nightly</c>, <c>/v1/dagruns?schedule=nightly</c>).
/// </summary>
public static class SchedulesApi
{
    private const int DefaultLimit = 50;
    private const int MaxLimit = 200;
    private const int NextFireTimes = 5;

    public static IEndpointRouteBuilder MapSchedulesApi(this IEndpointRouteBuilder endpoints)
    {
        // Each route names its policy; GETs fall under the fallback policy (read). No group-wide policy: it would add to
        // every route, and a token with only submit could not submit.
        var schedules = endpoints.MapGroup("/api/schedules").WithTags("Schedules");
        schedules.MapGet("/", ListAsync).WithName("ListSchedules").WithSummary("List schedules (by name; ?q= part of the name, ?enabled=)");
        schedules.MapPost("/", CreateAsync).WithName("CreateSchedule").WithSummary("Create a schedule: cron + time zone, and a task, a command or a DAG (commands need the commands scope)")
            .RequireAuthorization(Policies.Submit);
        schedules.MapGet("/{name}", GetAsync).WithName("GetSchedule").WithSummary("A schedule, with its next 5 fire times (its zone and UTC) and last firing");
        schedules.MapPut("/{name}", UpdateAsync).WithName("UpdateSchedule").WithSummary("Change a schedule (fields left out keep their values)").RequireAuthorization(Policies.Submit);
        schedules.MapDelete("/{name}", DeleteAsync).WithName("DeleteSchedule").WithSummary("Delete a schedule and its firing history; runs it started are kept").RequireAuthorization(Policies.Submit);
        schedules.MapPost("/{name}/pause", PauseAsync).WithName("PauseSchedule").WithSummary("Pause: no slot fires until resumed").RequireAuthorization(Policies.Operate);
        schedules.MapPost("/{name}/resume", ResumeAsync).WithName("ResumeSchedule").WithSummary("Resume from now (slots passed while paused are not caught up)").RequireAuthorization(Policies.Operate);
        schedules.MapPost("/{name}/trigger", TriggerAsync).WithName("TriggerSchedule").WithSummary("Start a run now, outside the cron").RequireAuthorization(Policies.Operate);
        schedules.MapGet("/{name}/firings", FiringsAsync).WithName("ListScheduleFirings").WithSummary("The schedule's firings, newest first, with their outcome and run");
        return endpoints;
    }

    public static async Task<Results<Ok<ScheduleListDto>, ProblemHttpResult>> ListAsync(
        [FromQuery(Name = "q")] string? search, [FromQuery(Name = "enabled")] bool? enabled, [FromQuery(Name = "limit")] int? limit,
        [FromQuery(Name = "offset")] int? offset, ScheduleQueries queries, ScheduleService schedules, CancellationToken ct)
    {
        var take = limit ?? DefaultLimit;
        if (take is < 1 or > MaxLimit) return Problems.BadRequest("limit", $"Must be between 1 and {MaxLimit}.");
        if (offset is < 0) return Problems.BadRequest("offset", "Must be 0 or more.");
        var page = await queries.PageAsync(search, enabled, offset ?? 0, take, ct);
        return TypedResults.Ok(new ScheduleListDto(
            page.Items.Select(r => ScheduleShapes.ToDto(r.Schedule, schedules.NextFireTimes(r.Schedule, 1), r.LastFiring, schedules.Secrets)).ToList(), page.Total, take, offset ?? 0));
    }

    public static async Task<Results<Ok<ScheduleDto>, ProblemHttpResult>> GetAsync(string name, IScheduleStore store, ScheduleService schedules, CancellationToken ct)
    {
        var schedule = await store.FindByNameAsync(name, ct);
        if (schedule is null) return NotFound(name);
        return TypedResults.Ok(await DtoAsync(schedule, store, schedules, ct));
    }

    public static async Task<Results<Created<ScheduleDto>, ProblemHttpResult>> CreateAsync(
        [FromBody] ScheduleRequest? body, IScheduleStore store, ScheduleService schedules, HttpContext http, CancellationToken ct)
    {
        if (body is null) return Problems.BadRequest("body", "A JSON body is required: {\"name\": …, \"cron\": …, and \"task\", \"command\" or \"dag\"}.");
        if (ToDraft(body, null) is not { } draft) return Invalid(body, null);
        if (await CommandGate.RefuseAsync(http, () => schedules.StartsCommands(draft), draft.Kind == ScheduleTargetKind.Command ? "command" : "dag") is { } refused) return refused;
        try
        {
            var outcome = await schedules.CreateAsync(draft, http.Actor(), ct: ct);
            if (!outcome.Done) return Problems.Conflict(outcome.Message);
            return TypedResults.Created($"/api/schedules/{Uri.EscapeDataString(outcome.Schedule!.Name)}", await DtoAsync(outcome.Schedule, store, schedules, ct));
        }
        catch (ScheduleDefinitionException e) { return Problems.BadRequest(e.Field, e.Message); }
    }

    public static async Task<Results<Ok<ScheduleDto>, ProblemHttpResult>> UpdateAsync(
        string name, [FromBody] ScheduleRequest? body, IScheduleStore store, ScheduleService schedules, HttpContext http, CancellationToken ct)
    {
        if (body is null) return Problems.BadRequest("body", "A JSON body is required.");
        var existing = await store.FindByNameAsync(name, ct);
        if (existing is null) return NotFound(name);
        if (ToDraft(body, existing) is not { } draft) return Invalid(body, existing);
        if (await CommandGate.RefuseAsync(http, () => schedules.StartsCommands(draft), draft.Kind == ScheduleTargetKind.Command ? "command" : "dag") is { } refused) return refused;
        try
        {
            var outcome = await schedules.UpdateAsync(existing.Id, draft, http.Actor(), ct: ct);
            return outcome.Status switch
            {
                ActionStatus.Done => TypedResults.Ok(await DtoAsync(outcome.Schedule!, store, schedules, ct)),
                ActionStatus.NotFound => NotFound(name),
                _ => Problems.Conflict(outcome.Message),
            };
        }
        catch (ScheduleDefinitionException e) { return Problems.BadRequest(e.Field, e.Message); }
    }

    public static Task<Results<Ok<ScheduleDto>, ProblemHttpResult>> PauseAsync(string name, IScheduleStore store, ScheduleService schedules, HttpContext http, CancellationToken ct) =>
        ActAsync(name, store, schedules, (id, token) => schedules.PauseAsync(id, http.Actor(), token), ct);

    public static Task<Results<Ok<ScheduleDto>, ProblemHttpResult>> ResumeAsync(string name, IScheduleStore store, ScheduleService schedules, HttpContext http, CancellationToken ct) =>
        ActAsync(name, store, schedules, (id, token) => schedules.ResumeAsync(id, http.Actor(), token), ct);

    public static async Task<Results<Ok<MessageBody>, ProblemHttpResult>> DeleteAsync(string name, IScheduleStore store, ScheduleService schedules, HttpContext http, CancellationToken ct)
    {
        var schedule = await store.FindByNameAsync(name, ct);
        if (schedule is null) return NotFound(name);
        var outcome = await schedules.DeleteAsync(schedule.Id, http.Actor(), ct);
        return outcome.Done ? TypedResults.Ok(new MessageBody(outcome.Message)) : NotFound(name);
    }

    public static async Task<Results<Accepted<TriggerDto>, ProblemHttpResult>> TriggerAsync(string name, IScheduleStore store, ScheduleService schedules, HttpContext http, CancellationToken ct)
    {
        var schedule = await store.FindByNameAsync(name, ct);
        if (schedule is null) return NotFound(name);
        var (outcome, fired) = await schedules.TriggerAsync(schedule.Id, http.Actor(), ct);
        if (!outcome.Done || fired is null)
            return outcome.Status == ActionStatus.NotFound ? NotFound(name) : Problems.Conflict(outcome.Message, fired?.Outcome?.ToString());
        var location = fired.ExecutionId is { } id ? $"/api/executions/{id}" : $"/v1/dagrun/{fired.DagRunId}";
        return TypedResults.Accepted(location, new TriggerDto(outcome.Message,
            new FiringResultDto(fired.Outcome!.Value.ToString(), fired.ExecutionId, fired.DagRunId, fired.Message)));
    }

    public static async Task<Results<Ok<FiringListDto>, ProblemHttpResult>> FiringsAsync(string name, [FromQuery(Name = "limit")] int? limit,
        [FromQuery(Name = "cursor")] long? cursor, IScheduleStore store, CancellationToken ct)
    {
        var take = limit ?? DefaultLimit;
        if (take is < 1 or > MaxLimit) return Problems.BadRequest("limit", $"Must be between 1 and {MaxLimit}.");
        var schedule = await store.FindByNameAsync(name, ct);
        if (schedule is null) return NotFound(name);
        var firings = await store.FiringsAsync(schedule.Id, cursor, take + 1, ct);
        var page = firings.Take(take).Select(ScheduleShapes.ToDto).ToList();
        return TypedResults.Ok(new FiringListDto(page, firings.Count > take ? page[^1].Id : null));
    }

    private static async Task<Results<Ok<ScheduleDto>, ProblemHttpResult>> ActAsync(string name, IScheduleStore store, ScheduleService schedules,
        Func<long, CancellationToken, Task<ScheduleOutcome>> act, CancellationToken ct)
    {
        var schedule = await store.FindByNameAsync(name, ct);
        if (schedule is null) return NotFound(name);
        var outcome = await act(schedule.Id, ct);
        return outcome.Done ? TypedResults.Ok(await DtoAsync(outcome.Schedule!, store, schedules, ct)) : NotFound(name);
    }

    private static async Task<ScheduleDto> DtoAsync(Schedule s, IScheduleStore store, ScheduleService schedules, CancellationToken ct)
    {
        var last = (await store.FiringsAsync(s.Id, null, 1, ct)).FirstOrDefault();
        return ScheduleShapes.ToDto(s, schedules.NextFireTimes(s, NextFireTimes), last, schedules.Secrets);
    }

    private static ProblemHttpResult NotFound(string name) => Problems.NotFound($"Schedule '{name}' does not exist.", "schedule");

    /// <summary>The first shape problem of a body <see cref="ToDraft"/> refused.</summary>
    private static ProblemHttpResult Invalid(ScheduleRequest body, Schedule? existing)
    {
        var targets = (body.Task is not null ? 1 : 0) + (body.Command is not null ? 1 : 0) + (body.Dag is { ValueKind: not JsonValueKind.Null } ? 1 : 0);
        if (existing is null && string.IsNullOrWhiteSpace(body.Name)) return Problems.BadRequest("name", "A name is required.");
        if (existing is null && string.IsNullOrWhiteSpace(body.Cron)) return Problems.BadRequest("cron", "A cron expression is required, e.g. \"0 2 * * *\".");
        if (targets > 1 || (targets == 0 && existing is null))
            return Problems.BadRequest(body.Task is null ? "task" : "command", "Give exactly one of \"task\" (a registered handler), \"command\" (argv) or \"dag\" (a daggy spec).");
        if (body.Args is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) }) return Problems.BadRequest("args", "\"args\" must be a JSON object.");
        if (body.Dag is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) }) return Problems.BadRequest("dag", "\"dag\" must be a daggy spec object.");
        if (body.Overlap is { } o && ParseEnum<OverlapPolicy>(o) is null) return Problems.BadRequest("overlap", "Use Skip, Allow, BufferOne or CancelPrevious.");
        return Problems.BadRequest("catchUp", "Use None, Latest or All.");
    }

    /// <summary>The body over the existing schedule (or the defaults); null when its shape is wrong (see <see cref="Invalid"/>).</summary>
    internal static ScheduleDraft? ToDraft(ScheduleRequest body, Schedule? existing)
    {
        var draft = existing is null ? new ScheduleDraft() : ScheduleDraft.From(existing);
        if (existing is null && (string.IsNullOrWhiteSpace(body.Name) || string.IsNullOrWhiteSpace(body.Cron))) return null;
        var targets = (body.Task is not null ? 1 : 0) + (body.Command is not null ? 1 : 0) + (body.Dag is { ValueKind: not JsonValueKind.Null } ? 1 : 0);
        if (targets > 1 || (targets == 0 && existing is null)) return null;
        if (body.Args is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) }) return null;
        if (body.Dag is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) }) return null;
        OverlapPolicy? overlap = body.Overlap is null ? draft.Overlap : ParseEnum<OverlapPolicy>(body.Overlap);
        CatchUpPolicy? catchUp = body.CatchUp is null ? draft.CatchUp : ParseEnum<CatchUpPolicy>(body.CatchUp);
        if (overlap is null || catchUp is null) return null;
        draft = draft with
        {
            Name = body.Name ?? draft.Name,
            Description = body.Description ?? draft.Description,
            Cron = body.Cron ?? draft.Cron,
            TimeZone = body.TimeZone ?? draft.TimeZone,
            Overlap = overlap.Value,
            CatchUp = catchUp.Value,
            Enabled = body.Enabled ?? draft.Enabled,
            StartAt = body.StartAt ?? draft.StartAt,
            EndAt = body.EndAt ?? draft.EndAt,
            JitterSeconds = body.JitterSeconds ?? draft.JitterSeconds,
            Queue = body.Queue ?? draft.Queue,
            Priority = body.Priority ?? draft.Priority,
            Tags = body.Tags ?? draft.Tags,
            MaxRetries = body.MaxRetries ?? draft.MaxRetries,
            RetryIntervalSeconds = body.RetryIntervalSeconds ?? draft.RetryIntervalSeconds,
            TimeoutSeconds = body.TimeoutSeconds ?? draft.TimeoutSeconds,
        };
        if (body.Task is not null)
            draft = draft with { Kind = ScheduleTargetKind.Handler, Task = body.Task, ArgsJson = body.Args is { ValueKind: JsonValueKind.Object } a ? a.GetRawText() : null };
        else if (body.Command is not null)
            draft = draft with { Kind = ScheduleTargetKind.Command, Command = body.Command, Environment = body.Environment ?? [], WorkingDirectory = body.WorkingDirectory };
        else if (body.Dag is { ValueKind: JsonValueKind.Object } dag)
            draft = draft with { Kind = ScheduleTargetKind.Dag, DagJson = dag.GetRawText() };
        else if (body.Args is { ValueKind: JsonValueKind.Object } args && draft.Kind == ScheduleTargetKind.Handler)
            draft = draft with { ArgsJson = args.GetRawText() };
        return draft;
    }

    private static T? ParseEnum<T>(string value) where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !int.TryParse(value, out _) ? parsed : null;
}

public sealed record MessageBody([property: System.Text.Json.Serialization.JsonPropertyName("message")] string Message);
