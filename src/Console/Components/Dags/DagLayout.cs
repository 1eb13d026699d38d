namespace Taskdeck.Console.Components.Dags;

public sealed record DagNodePlacement(long Id, int Layer, int Order, double X, double Y);

public sealed record DagEdgePath(long From, long To, string Path);

public sealed record DagLayoutResult(IReadOnlyDictionary<long, DagNodePlacement> Nodes, IReadOnlyList<DagEdgePath> Edges, double Width, double Height, int Layers);

/// <summary>
/// A layered left-to-right layout: longest-path layering (a node sits one layer right of its deepest parent),
/// then a downward and an upward barycenter sweep to reduce crossings. Each step is linear in nodes + edges
/// (plus a sort per layer), so a 1,000-task run lays out in about a millisecond.
/// </summary>
public static class DagLayout
{
    public const double NodeWidth = 168;
    public const double NodeHeight = 34;
    public const double LayerGap = 70;
    public const double RowGap = 14;
    public const double Margin = 12;

    public static DagLayoutResult Compute(IReadOnlyList<long> nodes, IReadOnlyList<(long Parent, long Child)> edges)
    {
        var known = new HashSet<long>(nodes);
        var children = nodes.ToDictionary(n => n, _ => new List<long>());
        var parents = nodes.ToDictionary(n => n, _ => new List<long>());
        var indegree = nodes.ToDictionary(n => n, _ => 0);
        foreach (var (p, c) in edges)
        {
            if (!known.Contains(p) || !known.Contains(c) || p == c) continue;
            children[p].Add(c);
            parents[c].Add(p);
            indegree[c]++;
        }

        // Longest-path layering in topological (Kahn) order.
        var layer = nodes.ToDictionary(n => n, _ => 0);
        var ready = new Queue<long>(nodes.Where(n => indegree[n] == 0));
        var placed = 0;
        while (ready.Count > 0)
        {
            var n = ready.Dequeue();
            placed++;
            foreach (var c in children[n])
            {
                layer[c] = Math.Max(layer[c], layer[n] + 1);
                if (--indegree[c] == 0) ready.Enqueue(c);
            }
        }
        if (placed < nodes.Count)
        {
            // A cycle (the API refuses them, but a drawing must never hang): park what is left after the last layer.
            var last = layer.Values.DefaultIfEmpty(0).Max() + 1;
            foreach (var n in nodes.Where(n => indegree[n] > 0)) layer[n] = last;
        }

        var layerCount = nodes.Count == 0 ? 0 : layer.Values.Max() + 1;
        var layers = Enumerable.Range(0, layerCount).Select(_ => new List<long>()).ToList();
        foreach (var n in nodes) layers[layer[n]].Add(n);

        var position = new Dictionary<long, double>();
        void Number(List<long> row) { for (var i = 0; i < row.Count; i++) position[row[i]] = i; }
        foreach (var row in layers) Number(row);

        // Barycenter sweeps: order each layer by the mean position of its neighbours in the layer before.
        for (var i = 1; i < layers.Count; i++) Reorder(layers[i], parents);
        for (var i = layers.Count - 2; i >= 0; i--) Reorder(layers[i], children);

        void Reorder(List<long> row, Dictionary<long, List<long>> neighbours)
        {
            var keys = row.ToDictionary(n => n, n =>
            {
                var list = neighbours[n];
                return list.Count == 0 ? position[n] : list.Average(m => position[m]);
            });
            var sorted = row.OrderBy(n => keys[n]).ThenBy(n => position[n]).ToList();
            row.Clear();
            row.AddRange(sorted);
            Number(row);
        }

        var tallest = layers.Count == 0 ? 0 : layers.Max(r => r.Count);
        var result = new Dictionary<long, DagNodePlacement>(nodes.Count);
        for (var l = 0; l < layers.Count; l++)
        {
            var row = layers[l];
            // Centre short layers against the tallest one so the drawing reads as a flow.
            var offset = (tallest - row.Count) * (NodeHeight + RowGap) / 2;
            for (var i = 0; i < row.Count; i++)
                result[row[i]] = new DagNodePlacement(row[i], l, i, Margin + l * (NodeWidth + LayerGap), Margin + offset + i * (NodeHeight + RowGap));
        }

        var paths = new List<DagEdgePath>(edges.Count);
        foreach (var (p, c) in edges)
        {
            if (!result.TryGetValue(p, out var a) || !result.TryGetValue(c, out var b) || p == c) continue;
            double x1 = a.X + NodeWidth, y1 = a.Y + NodeHeight / 2, x2 = b.X, y2 = b.Y + NodeHeight / 2;
            var bend = Math.Max(24, (x2 - x1) / 2);
            paths.Add(new DagEdgePath(p, c, FormattableString.Invariant($"M{x1:0.#},{y1:0.#} C{x1 + bend:0.#},{y1:0.#} {x2 - bend:0.#},{y2:0.#} {x2:0.#},{y2:0.#}")));
        }

        var width = Margin * 2 + Math.Max(1, layers.Count) * (NodeWidth + LayerGap) - LayerGap;
        var height = Margin * 2 + Math.Max(1, tallest) * (NodeHeight + RowGap) - RowGap;
        return new DagLayoutResult(result, paths, width, height, layers.Count);
    }
}
