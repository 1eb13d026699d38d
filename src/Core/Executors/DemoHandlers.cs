using Microsoft.Extensions.DependencyInjection;

namespace Taskdeck.Core.Executors;

/// <summary>Shipped so a new user sees the engine work without writing a handler.</summary>
public static class DemoHandlers
{
    public static IServiceCollection AddDemoHandlers(this IServiceCollection services) => services
        .AddTaskHandler("demo.noop", _ => Task.FromResult<object?>(null))
        .AddTaskHandler("demo.sleep", SleepAsync)
        .AddTaskHandler("demo.fail", Fail)
        .AddTaskHandler("demo.echo", EchoAsync)
        .AddTaskHandler("demo.progress", ProgressAsync);

    private static async Task<object?> SleepAsync(TaskContext context)
    {
        var seconds = context.Argument("seconds", 1.0);
        context.Log.Info($"sleeping {seconds} s");
        await Task.Delay(TimeSpan.FromSeconds(seconds), context.CancellationToken);
        context.Log.Info("woke up");
        return new { slept = seconds };
    }

    private static Task<object?> Fail(TaskContext context) =>
        throw new InvalidOperationException(context.Argument("message", "demo.fail was asked to fail"));

    private static Task<object?> EchoAsync(TaskContext context)
    {
        var lines = context.Argument<List<string>>("lines") ?? [];
        foreach (var line in lines) context.Log.Info(line);
        return Task.FromResult<object?>(lines);
    }

    private static async Task<object?> ProgressAsync(TaskContext context)
    {
        var steps = context.Argument("steps", 10);
        var delayMs = context.Argument("delayMs", 300);
        for (var step = 1; step <= steps; step++)
        {
            await Task.Delay(delayMs, context.CancellationToken);
            await context.ReportProgressAsync((double)step / steps, $"step {step} of {steps}");
            context.Log.Info($"step {step} of {steps}");
        }
        return new { steps };
    }
}
