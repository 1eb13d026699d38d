using Taskdeck.Core.Secrets;

namespace Taskdeck.Unit.Secrets;

/// <summary>What a command prints is masked before it is stored: whole values, however the reads split them.</summary>
public sealed class SecretMaskTests
{
    private const string Key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    private static string Through(SecretMask mask, params string[] chunks)
    {
        var written = new List<string>();
        var writer = new MaskedWriter(mask, written.Add);
        foreach (var chunk in chunks) writer.Write(chunk);
        writer.Flush();
        return string.Concat(written);
    }

    [Fact]
    public void AValue_SplitAcrossReads_AtEveryPoint_IsMaskedWhole_AndTheRestIsKeptAsPrinted()
    {
        var mask = new SecretMask([Key]);
        var printed = $"key={Key}\nnext line {Key}{Key} end\n";
        for (var cut = 0; cut <= printed.Length; cut++)
            Assert.Equal("key=***\nnext line ****** end\n", Through(mask, printed[..cut], printed[cut..]));
        Assert.Equal("key=***\nnext line ****** end\n", Through(mask, printed.Select(c => c.ToString()).ToArray()));
    }

    [Fact]
    public void TheLongerValue_Wins_AndShortValuesAreLeftAlone()
    {
        var mask = new SecretMask(["abcd", "abcdefgh", "on"]);
        Assert.Equal("x *** y *** on", Through(mask, "x abcdefgh y ab", "cd on"));
    }

    [Fact]
    public void For_TakesSecretLookingEnvironmentValues_AndResolvedReferences_NotOtherValues()
    {
        var options = new SecretOptions { Values = { ["DB"] = "resolved-db-pw" } };
        var mask = SecretMask.For(options, ["--password={{secret:DB}}"], ["AWS_SECRET_ACCESS_KEY=" + Key, "API_TOKEN={{secret:DB}}", "REGION=eu-west-1"],
            new Dictionary<string, string> { ["TASKDECK_WORKER_TOKEN"] = "per-attempt-worker-token" });
        Assert.Equal("*** *** eu-west-1 ***", mask.Apply($"{Key} resolved-db-pw eu-west-1 per-attempt-worker-token"));
        Assert.True(SecretMask.For(options, ["/bin/true"], ["REGION=eu-west-1"]).IsEmpty);
    }

    [Fact]
    public void ALineThatCannotBecomeAValue_IsWrittenAtOnce_OnlyAPossibleStartOfOneWaits()
    {
        var written = new List<string>();
        var writer = new MaskedWriter(new SecretMask([Key]), written.Add);
        writer.Write("step 3 of 10 done\n");
        Assert.Equal(["step 3 of 10 done\n"], written);
        writer.Write("key=wJalr");
        Assert.Equal("step 3 of 10 done\nkey=", string.Concat(written));
        writer.Write("XUtn and more");
        Assert.Equal("step 3 of 10 done\nkey=wJalrXUtn and more", string.Concat(written));
    }

    [Fact]
    public void NoValues_PassesChunksThroughAsTheyCome()
    {
        var written = new List<string>();
        var writer = new MaskedWriter(SecretMask.None, written.Add);
        writer.Write("a");
        writer.Write("b");
        Assert.Equal(["a", "b"], written);
    }
}
