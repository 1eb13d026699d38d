namespace Taskdeck.Console.Live;

/// <summary>
/// How often a shared live model may refresh. Three pulls: a floor (changes reach the screen quickly when little moves),
/// the cost of a refresh — the model's query plus drawing the update on every page that watches it (a refresh that takes
/// 40 ms is run at most every 40 ms × <see cref="CostFactor"/>, so one view never spends more than 1/<see cref="CostFactor"/>
/// of a core, however many pages show it) — and the rate of change (when more than <see cref="BusyRate"/> changes a second
/// arrive, nobody reads rows that repaint faster than <see cref="BusyInterval"/>).
/// A pure function of what the model measured, so it is tested without a clock.
/// </summary>
public sealed class LiveCadence
{
    /// <summary>The shortest interval between two refreshes of one model (also how long a burst is gathered).</summary>
    public TimeSpan MinInterval { get; set; } = TimeSpan.FromMilliseconds(250);
    /// <summary>The longest: a change shows up on screen within this (plus one query) however costly the query.</summary>
    public TimeSpan MaxInterval { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>The interval is at least a refresh's cost times this.</summary>
    public int CostFactor { get; set; } = 20;
    /// <summary>Changes per second above which the model refreshes at most every <see cref="BusyInterval"/>.</summary>
    public double BusyRate { get; set; } = 50;
    public TimeSpan BusyInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// How old what a view reads "for history" may grow between its refreshes — what a refresh does not re-read because it
    /// barely moves, or moves only by what the refresh reads on top of it: the dashboard's finished throughput buckets, its
    /// hour's and day's outcomes, its day of run times, its once-a-minute queue samples; an executions grid's total (for a
    /// filter only new executions add to).
    /// </summary>
    public TimeSpan HistoryInterval { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>
    /// The share of one core that all the node's live views together may spend on their queries and their pages' drawing.
    /// Past it every view's interval between queries is stretched (at most doubled, never beyond <see cref="MaxInterval"/>;
    /// <see cref="LiveWork.Stretch"/>): many open pages refresh less often each, rather than taking the node's cores from
    /// the work they show. A twentieth of a core: what the views spend by their timers is not all their pages cost the node
    /// (sending each update to its browser and taking the browser's acknowledgement are outside them), and 50 open pages
    /// must leave the node at least 90 % of its throughput (issue 15; BENCHMARKS.md, session 42).
    /// </summary>
    public double Budget { get; set; } = 0.05;

    /// <param name="refreshCost">What the model's last refresh cost: its query (none for a patch) and every page's drawing of it.</param>
    /// <param name="changesPerSecond">The model's recent rate of relevant changes.</param>
    /// <param name="stretch">How much the live views' <see cref="Budget"/> stretches every interval now (1: not at all).</param>
    public TimeSpan Next(TimeSpan refreshCost, double changesPerSecond, double stretch = 1)
    {
        var interval = MinInterval;
        var byCost = refreshCost * CostFactor;
        if (byCost > interval) interval = byCost;
        if (changesPerSecond > BusyRate && BusyInterval > interval) interval = BusyInterval;
        if (stretch > 1) interval *= stretch;
        return interval > MaxInterval ? MaxInterval : interval;
    }

    public IEnumerable<string> Validate()
    {
        if (MinInterval <= TimeSpan.Zero) yield return "Taskdeck:Console:Live:MinInterval must be positive.";
        if (MaxInterval < MinInterval) yield return "Taskdeck:Console:Live:MaxInterval must not be shorter than MinInterval.";
        if (CostFactor < 1) yield return "Taskdeck:Console:Live:CostFactor must be at least 1.";
        if (BusyRate <= 0) yield return "Taskdeck:Console:Live:BusyRate must be positive.";
        if (HistoryInterval < TimeSpan.Zero) yield return "Taskdeck:Console:Live:HistoryInterval must not be negative.";
        if (!(Budget > 0)) yield return "Taskdeck:Console:Live:Budget must be a positive share of one core (0.05 is a twentieth of a core).";
    }
}
