using NetArchTest.Rules;
using Taskdeck.Core.Executions;
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
