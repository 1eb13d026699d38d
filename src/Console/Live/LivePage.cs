namespace Taskdeck.Console.Live;

/// <summary>
/// The page a live model hands its updates to: whether its tab is visible, and how to run work on its circuit (the
/// component's <c>InvokeAsync</c>). The model runs each update there and times it, so the cost of drawing an update on
/// every open page (which outgrows the model's own query once many pages watch) slows the model's cadence.
/// </summary>
/// <param name="Visibility">The tab's visibility; null for a viewer that is always visible.</param>
/// <param name="OnCircuit">Runs a page's update on its circuit; null runs it on the model's thread (tests and the bench).</param>
public sealed record LivePage(PageVisibility? Visibility, Func<Func<Task>, Task>? OnCircuit);
