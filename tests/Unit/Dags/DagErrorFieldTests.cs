using Taskdeck.Console.Dags;

namespace Taskdeck.Unit.Dags;

/// <summary>A refused DAG's ProblemDetails names what is at fault: the task (as the command gate does), the parameters or the tag.</summary>
public sealed class DagErrorFieldTests
{
    [Theory]
    [InlineData("task 'extract': maxRetries must be a whole number ≥ 0 (got -3).", "tasks", "extract")]
    [InlineData("task 'a' names unknown child 'zz'.", "tasks", "a")]
    [InlineData("task 'it's': job.cores must be a number ≥ 0 (got -1).", "tasks", "it's")]
    [InlineData("parameter 'X' has no values.", "parameters", null)]
    [InlineData("\"parameters\" must be an object of name → list of values.", "parameters", null)]
    [InlineData("\"tag\" must be a string.", "tag", null)]
    [InlineData("\"tasks\" must be an object of task name → task.", "tasks", null)]
    public void TheFirstErrorsSubject_IsTheFieldAtFault(string error, string field, string? task) =>
        Assert.Equal((field, task), DaggyApi.AtFault(error));
}
