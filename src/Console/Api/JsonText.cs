using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Taskdeck.Console.Api;

/// <summary>
/// JSON may escape half of a UTF-16 surrogate pair (<c>"\ud800"</c>): the document parses, but the string is not text, and
/// reading it throws (<c>JsonElement.GetString</c>) deep inside whatever reads the field — a DAG's parameter answered 500.
/// The bodies the seed APIs take as a whole document are checked once, up front, and refused naming the field.
/// </summary>
public static class JsonText
{
    public const string Problem = "Holds an unpaired UTF-16 surrogate escape (\\uD800–\\uDFFF without its other half): not valid text.";

    /// <summary>400 naming the first string (or property name) that is not valid text; null when every one is.</summary>
    public static ProblemHttpResult? Refusal(JsonElement body) =>
        FirstInvalidString(body) is { } path ? Problems.BadRequest(path, Problem) : null;

    /// <summary>"path: problem" for the first string that is not valid text (a DAG spec's problem list), or null.</summary>
    public static string? ProblemIn(JsonElement body) => FirstInvalidString(body) is { } path ? $"{path}: {Problem}" : null;

    /// <summary>The JSON path (<c>tasks.a.job.args.x</c>) of the first string that is not valid UTF-16, or null.</summary>
    public static string? FirstInvalidString(JsonElement body)
    {
        // Such a string can only come from a \uD8xx–\uDFxx escape: most bodies hold none and are not walked.
        return MayHoldSurrogateEscape(JsonMarshal.GetRawUtf8Value(body)) ? Walk(body, "") : null;
    }

    private static bool MayHoldSurrogateEscape(ReadOnlySpan<byte> raw)
    {
        for (var i = raw.IndexOf("\\u"u8); i >= 0 && i + 3 < raw.Length; )
        {
            if (raw[i + 2] is (byte)'d' or (byte)'D' && raw[i + 3] is >= (byte)'8' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F')
                return true;
            var next = raw[(i + 2)..].IndexOf("\\u"u8);
            i = next < 0 ? -1 : i + 2 + next;
        }
        return false;
    }

    private static string? Walk(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return IsText(() => element.GetString()) ? null : Root(path);
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (!IsText(() => property.Name)) return Root(path);
                    if (Walk(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}") is { } found) return found;
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                    if (Walk(item, $"{path}[{i++}]") is { } found) return found;
                return null;
            default:
                return null;
        }
    }

    private static string Root(string path) => path.Length == 0 ? "body" : path;

    private static bool IsText(Func<string?> read)
    {
        try { read(); return true; }
        catch (InvalidOperationException) { return false; }
    }
}
