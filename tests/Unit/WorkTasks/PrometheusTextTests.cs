namespace Taskdeck.Unit.WorkTasks;

/// <summary>The test's parser must itself refuse what the exposition format forbids, or its passing proves nothing.</summary>
public class PrometheusTextTests
{
    [Fact]
    public void Accepts_AWellFormedExposition()
    {
        var families = PrometheusText.Parse("""
            # HELP x_total Things.
            # TYPE x_total counter
            x_total{a="1",b="q\"uote\\"} 3 1700000000000
            # TYPE h histogram
            h_bucket{le="0.5"} 1
            h_bucket{le="+Inf"} 2
            h_sum 0.7
            h_count 2
            g NaN

            """.Replace("\r\n", "\n"));
        Assert.Equal("q\"uote\\", families["x_total"].Samples.Single().Labels["b"]);
        Assert.Equal(4, families["h"].Samples.Count);
        Assert.True(double.IsNaN(families["g"].Samples.Single().Value));
    }

    [Theory]
    [InlineData("1bad 1\n")]
    [InlineData("x{1a=\"v\"} 1\n")]
    [InlineData("x{__reserved=\"v\"} 1\n")]
    [InlineData("x{a=v} 1\n")]
    [InlineData("x{a=\"v\\t\"} 1\n")]
    [InlineData("x one\n")]
    [InlineData("x 1 2 3\n")]
    [InlineData("x 1\nx 2\n")]
    [InlineData("x 1\ny 1\nx{a=\"b\"} 1\n")]
    [InlineData("x 1\n# TYPE x gauge\n")]
    [InlineData("# TYPE x gauge\n# TYPE x gauge\n")]
    [InlineData("# TYPE x widget\n")]
    [InlineData("# TYPE c counter\nc -1\n")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n")]
    public void Refuses_WhatTheFormatForbids(string text)
    {
        Assert.Throws<FormatException>(() => PrometheusText.Parse(text));
    }
}
