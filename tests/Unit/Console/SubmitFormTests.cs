using Bunit;
using Taskdeck.Console.Components.Submit;
using Taskdeck.Core.Executions;

namespace Taskdeck.Unit.Console;

public sealed class SubmitFormTests : MudTestContext
{
    [Fact]
    public void HandlerForm_ReportsInvalidJson_AsYouType_AndBlocksSubmit()
    {
        NewExecution? submitted = null;
        var cut = Render<HandlerSubmitForm>(p => p.Add(f => f.Names, ["demo.noop", "demo.sleep"]).Add(f => f.OnSubmit, spec => submitted = spec));

        cut.Find("textarea").Input("{\"seconds\": ");

        cut.WaitForAssertion(() => Assert.Contains("Not valid JSON", cut.Markup));
        Assert.True(cut.FindAll("button").Single(b => b.TextContent.Contains("Submit task")).HasAttribute("disabled"));
        Assert.Null(submitted);
    }

    [Fact]
    public void HandlerForm_RejectsJsonThatIsNotAnObject()
    {
        Assert.Equal("Arguments must be a JSON object, like {\"seconds\": 5}.", HandlerSubmitForm.Validate("[1, 2]"));
        Assert.Null(HandlerSubmitForm.Validate("{\"seconds\": 5}"));
        Assert.Null(HandlerSubmitForm.Validate(""));
    }

    [Fact]
    public void HandlerForm_SubmitsTheChosenHandler_WithItsArguments()
    {
        NewExecution? submitted = null;
        var cut = Render<HandlerSubmitForm>(p => p.Add(f => f.Names, ["demo.sleep"]).Add(f => f.OnSubmit, spec => submitted = spec));

        cut.Find("textarea").Input("{\"seconds\": 2}");
        // The form validates as you type; on a busy machine the render that enables the button can lag the input.
        cut.WaitForAssertion(() => Assert.False(SubmitButton(cut).HasAttribute("disabled")));
        SubmitButton(cut).Click();

        cut.WaitForAssertion(() => Assert.NotNull(submitted));
        Assert.Equal("demo.sleep", submitted!.Name);
        Assert.Equal("{\"seconds\": 2}", submitted.ArgumentsJson);
        Assert.Equal(ExecutorKind.Handler, submitted.Kind);
    }

    private static AngleSharp.Dom.IElement SubmitButton(IRenderedComponent<HandlerSubmitForm> cut) =>
        cut.FindAll("button").Single(b => b.TextContent.Contains("Submit task"));
}
