using System.Text.Json;
using Taskdeck.Core.Dags;

namespace Taskdeck.Console.Dags;

/// <summary>The Submit page's view of <see cref="DagService"/>: JSON text in, problems or a run id out.</summary>
public sealed class DagSubmitter(DagService dags) : IDagSubmitter
{
    public Task<IReadOnlyList<DagProblem>> ValidateAsync(string specJson, CancellationToken ct = default)
    {
        if (Parse(specJson, out var json) is { } problem) return Task.FromResult<IReadOnlyList<DagProblem>>([problem]);
        return Task.FromResult(ToProblems(dags.Validate(json).Errors));
    }

    public async Task<DagSubmitResult> SubmitAsync(string specJson, CancellationToken ct = default)
    {
        if (Parse(specJson, out var json) is { } problem) return new DagSubmitResult(null, [problem]);
        var submission = await dags.SubmitAsync(json, ct);
        return new DagSubmitResult(submission.RunId, ToProblems(submission.Errors));
    }

    private static DagProblem? Parse(string text, out JsonElement json)
    {
        json = default;
        try
        {
            using var document = JsonDocument.Parse(text);
            json = document.RootElement.Clone();
            return null;
        }
        catch (JsonException e)
        {
            return new DagProblem("JSON", e.Message);
        }
    }

    private static IReadOnlyList<DagProblem> ToProblems(IReadOnlyList<string> errors) => errors.Select(e => new DagProblem("spec", e)).ToList();
}
