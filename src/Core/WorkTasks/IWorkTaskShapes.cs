namespace Taskdeck.Core.WorkTasks;

/// <summary>
/// The JSON a work task's execution carries, in the shape of the API it came through (the Console's adapter: the
/// work-task seed's snake_case fields). Core keeps the submitted JSON verbatim and asks the adapter to compose it.
/// </summary>
public interface IWorkTaskShapes
{
    /// <summary>A handler's arguments: the task spec, with the work task's own fields beside it.</summary>
    string HandlerArguments(string workTaskId, WorkTaskSubmission submission);

    /// <summary>The result recorded when a worker reports success.</summary>
    string SuccessResult(WorkerReport report);
}
