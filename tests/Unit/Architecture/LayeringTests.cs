using NetArchTest.Rules;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.WorkTasks;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Architecture;

/// <summary>
/// The folder layout is the architecture (CONVENTIONS.md): Core is the model and its rules, Data stores it, the Console
/// presents it. These fail the build's tests when a reference points the wrong way.
/// </summary>
public sealed class LayeringTests
{
    [Fact]
    public void Core_DependsOnNeitherData_NorTheConsole_NorEfCore_NorAspNetCore()
    {
        var result = Types.InAssembly(typeof(ExecutionState).Assembly).ShouldNot()
            .HaveDependencyOnAny("Taskdeck.Data", "Taskdeck.Console", "Microsoft.EntityFrameworkCore", "Microsoft.AspNetCore", "Npgsql")
            .GetResult();

        Assert.True(result.IsSuccessful, "Core types reaching outside Core: " + string.Join(", ", result.FailingTypeNames ?? []));
    }

    [Fact]
    public void Core_ReachesHangfireOnlyThroughItsTransportFolder()
    {
        // ExecutionJob keeps its old namespace (Hangfire stores the type name of jobs already queued) but lives in the folder.
        var result = Types.InAssembly(typeof(ExecutionState).Assembly).That()
            .DoNotResideInNamespace("Taskdeck.Core.Dispatch.HangfireQueue").And().DoNotHaveName(nameof(Taskdeck.Core.Dispatch.ExecutionJob))
            .ShouldNot().HaveDependencyOn("Hangfire")
            .GetResult();

        Assert.True(result.IsSuccessful, "Core types using Hangfire outside src/Core/Dispatch/HangfireQueue: " + string.Join(", ", result.FailingTypeNames ?? []));
    }

    [Fact]
    public void HangfiresStoragePackages_AreNamedOnlyWhereTheStorageIsChosen()
    {
        var result = Types.InAssemblies([typeof(ExecutionState).Assembly, typeof(TaskdeckDbContext).Assembly, typeof(Program).Assembly])
            .ShouldNot().HaveDependencyOnAny("Hangfire.PostgreSql", "Hangfire.SqlServer")
            .GetResult();
        var failing = (result.FailingTypeNames ?? []).ToList();
        const string chooser = "Taskdeck.Console.Hosting.HangfireSetup";

        // The check sees where the storage is chosen (so it can fail), and nowhere else: a storage's own exceptions and
        // options are named there (HangfireSetup.StorageFailures), Core's transport asks that registration.
        Assert.Contains(failing, name => name.StartsWith(chooser, StringComparison.Ordinal));
        Assert.DoesNotContain(failing, name => !name.StartsWith(chooser, StringComparison.Ordinal));
    }

    // Core asks the edge for what only the edge knows, in the seeds' vocabularies: the DAG format the API accepts (daggy's
    // JSON), the work-task JSON an execution carries, and the address spawned workers call back on. A default of any of
    // them inside Core would be seed vocabulary in Core.
    private static readonly Type[] SeedAdapters = [typeof(IDagSpecReader), typeof(IWorkTaskShapes), typeof(IWorkerCallbackAddress)];

    [Fact]
    public void Core_LeavesTheSeedAdapters_ToTheConsole()
    {
        var inCore = SeedAdapters.SelectMany(adapter => Types.InAssembly(typeof(ExecutionState).Assembly).That().ImplementInterface(adapter).GetTypes());
        // The same query finds the Console's implementations, so the rule can fail.
        var notInConsole = SeedAdapters.Where(adapter => !Types.InAssembly(typeof(Program).Assembly).That().ImplementInterface(adapter).GetTypes().Any());

        Assert.Empty(inCore.Select(t => t.FullName));
        Assert.Empty(notInConsole.Select(t => t.Name));
    }

    // A work task's JSON fields are kept verbatim as text; composing or reading them is the adapter's (IWorkTaskShapes).
    [Fact]
    public void CoresWorkTasks_ReadAndWriteNoJson()
    {
        var result = Types.InAssembly(typeof(ExecutionState).Assembly).That().ResideInNamespace("Taskdeck.Core.WorkTasks")
            .ShouldNot().HaveDependencyOn("System.Text.Json")
            .GetResult();

        Assert.True(result.IsSuccessful, "Core's work-task types using System.Text.Json: " + string.Join(", ", result.FailingTypeNames ?? []));
    }

    [Fact]
    public void Data_DoesNotDependOnTheConsole()
    {
        var result = Types.InAssembly(typeof(TaskdeckDbContext).Assembly).ShouldNot()
            .HaveDependencyOnAny("Taskdeck.Console", "Microsoft.AspNetCore.Components")
            .GetResult();

        Assert.True(result.IsSuccessful, "Data types reaching into the Console: " + string.Join(", ", result.FailingTypeNames ?? []));
    }

    // The rules above can fail: the same dependency check finds the Console's own (allowed) references to Core.
    [Fact]
    public void TheDependencyCheck_FindsADependency_WhereOneExists() =>
        Assert.NotEmpty(Types.InAssembly(typeof(Program).Assembly).That().HaveDependencyOn("Taskdeck.Core").GetTypes());
}
