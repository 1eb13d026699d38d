using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>
/// A grid page's rows as they are now, and the cells that draw each one. A change to a row already on the page repaints
/// that row's <see cref="ExecutionRow"/> and nothing else: the grid, its other rows and the page are not rendered again.
/// Used on the circuit's dispatcher only.
/// </summary>
public sealed class LiveRows
{
    private Dictionary<long, Execution> _rows = [];
    private readonly Dictionary<long, List<Action>> _cells = [];

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
        if (_cells.TryGetValue(id, out var cells))
            foreach (var repaint in cells.ToList()) repaint();
    }

    public IDisposable Register(long id, Action repaint)
    {
        if (!_cells.TryGetValue(id, out var cells)) _cells[id] = cells = [];
        cells.Add(repaint);
        return new Registration(this, id, repaint);
    }

    private sealed class Registration(LiveRows owner, long id, Action repaint) : IDisposable
    {
        public void Dispose()
        {
            if (!owner._cells.TryGetValue(id, out var cells)) return;
            cells.Remove(repaint);
            if (cells.Count == 0) owner._cells.Remove(id);
        }
    }
}
