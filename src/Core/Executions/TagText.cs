namespace Taskdeck.Core.Executions;

/// <summary>
/// Tags as one delimited text (<c>|a|b|</c>) beside their JSON list, so "has tag X" is a substring test on every
/// provider. Inside a tag, <c>%</c> and <c>|</c> are percent-escaped (<c>%25</c>, <c>%7C</c>): a stored tag then never
/// holds the delimiter, so <c>|X|</c> can only match the whole tag X — a tag "a|b" no longer passes for "a" and "b".
/// </summary>
public static class TagText
{
    /// <summary>The database column's size: the tag limits must keep an encoded list within it.</summary>
    public const int MaxLength = 1000;

    public static string Encode(IReadOnlyList<string> tags)
    {
        var text = new System.Text.StringBuilder("|");
        foreach (var tag in tags) text.Append(Escape(tag)).Append('|');
        return text.ToString();
    }

    /// <summary>What a filter for exactly <paramref name="tag"/> looks for inside the encoded text.</summary>
    public static string Needle(string tag) => "|" + Escape(tag) + "|";

    private static string Escape(string tag) => tag.Replace("%", "%25").Replace("|", "%7C");
}
