using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>
/// A grid page's rows as they are now, and the row components that draw each one. A change to a row already on the page repaints
/// that row's <see cref="ExecutionRow"/> and nothing else: the grid, its other rows and the page are not rendered again.
/// Used on the circuit's dispatcher only.
/// </summary>
public sealed class LiveRows
{
    private Dictionary<long, Execution> _rows = [];
    private readonly Dictionary<long, List<Action>> _drawers = [];

    public Execution Current(Execution row) => _rows.GetValueOrDefault(row.Id) ?? row;

    public Execution? Find(long id) => _rows.GetValueOrDefault(id);

    public void Reset(IEnumerable<Execution> rows) => _rows = rows.ToDictionary(r => r.Id);

    /// <summary>The row changed in place: its row repaints.</summary>
    public void Update(Execution row)
    {
        if (!_rows.ContainsKey(row.Id)) return;
        _rows[row.Id] = row;
        Repaint(row.Id);
    }

    /// <summary>Running rows' durations grow while nothing else changes: repaint just those.</summary>
    public void RepaintActive()
    {
        foreach (var row in _rows.Values.Where(r => r.State.IsActive()).ToList()) Repaint(row.Id);
    }

    public bool AnyActive => _rows.Values.Any(r => r.State.IsActive());

    private void Repaint(long id)
    {
        if (_drawers.TryGetValue(id, out var drawers))
            foreach (var repaint in drawers.ToList()) repaint();
    }

    public IDisposable Register(long id, Action repaint)
    {
        if (!_drawers.TryGetValue(id, out var drawers)) _drawers[id] = drawers = [];
        drawers.Add(repaint);
        return new Registration(this, id, repaint);
    }

    private sealed class Registration(LiveRows owner, long id, Action repaint) : IDisposable
    {
        public void Dispose()
        {
            if (!owner._drawers.TryGetValue(id, out var drawers)) return;
            drawers.Remove(repaint);
            if (drawers.Count == 0) owner._drawers.Remove(id);
        }
    }
}
