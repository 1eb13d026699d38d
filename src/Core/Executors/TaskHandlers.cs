using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Taskdeck.Core.Executors;

/// <summary>A .NET handler, registered by name. Its return value (serialised as JSON) becomes the execution's result.</summary>
public interface ITaskHandler
{
    Task<object?> RunAsync(TaskContext context);
}

/// <summary>What a handler gets: its arguments, a token fired on cancel or timeout, a log and progress reporting.</summary>
public sealed class TaskContext(
    long executionId,
    int attemptNumber,
    JsonElement arguments,
    AttemptLog log,
    Func<double, string?, Task> reportProgress,
    IServiceProvider services,
    CancellationToken cancellationToken)
{
    public long ExecutionId { get; } = executionId;
    public int AttemptNumber { get; } = attemptNumber;
    /// <summary>The submitted arguments (an empty object when none were given).</summary>
    public JsonElement Arguments { get; } = arguments;
    public AttemptLog Log { get; } = log;
    public IServiceProvider Services { get; } = services;
    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <param name="fraction">0..1.</param>
    public Task ReportProgressAsync(double fraction, string? message = null) => reportProgress(Math.Clamp(fraction, 0, 1), message);

    public T? Argument<T>(string name, T? fallback = default) =>
        Arguments.ValueKind == JsonValueKind.Object && Arguments.TryGetProperty(name, out var value)
            ? value.Deserialize<T>(JsonDefaults.Options)
            : fallback;
}

public static class JsonDefaults
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}

/// <summary>Handler names → how to make one. Filled by <c>AddTaskHandler</c>.</summary>
public sealed class TaskHandlerRegistry
{
    private readonly Dictionary<string, Func<IServiceProvider, ITaskHandler>> _factories = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _factories.Keys.Order(StringComparer.Ordinal).ToArray();

    public bool Contains(string name) => _factories.ContainsKey(name);

    internal void Add(string name, Func<IServiceProvider, ITaskHandler> factory) => _factories[name] = factory;

    public ITaskHandler Create(string name, IServiceProvider services) =>
        _factories.TryGetValue(name, out var factory) ? factory(services) : throw new KeyNotFoundException($"No handler named '{name}' is registered.");
}

public static class TaskHandlerRegistration
{
    public static IServiceCollection AddTaskHandler<THandler>(this IServiceCollection services, string name) where THandler : class, ITaskHandler
    {
        services.AddTransient<THandler>();
        Registry(services).Add(name, sp => sp.GetRequiredService<THandler>());
        return services;
    }

    public static IServiceCollection AddTaskHandler(this IServiceCollection services, string name, Func<TaskContext, Task<object?>> handler)
    {
        Registry(services).Add(name, _ => new DelegateHandler(handler));
        return services;
    }

    private static TaskHandlerRegistry Registry(IServiceCollection services)
    {
        var existing = services.FirstOrDefault(d => d.ServiceType == typeof(TaskHandlerRegistry))?.ImplementationInstance;
        if (existing is TaskHandlerRegistry registry) return registry;
        registry = new TaskHandlerRegistry();
        services.AddSingleton(registry);
        return registry;
    }

    private sealed class DelegateHandler(Func<TaskContext, Task<object?>> handler) : ITaskHandler
    {
        public Task<object?> RunAsync(TaskContext context) => handler(context);
    }
}
