using System.Text.Json;
using Taskdeck.Console.WorkTasks;

namespace Taskdeck.Unit.WorkTasks;

public class ResourceQuantitiesTests
{
    [Theory]
    [InlineData("""{"cpu": "1", "memory": "2Gi", "gpu": false}""", 1, 2048, 0)]
    [InlineData("""{"cpu": "500m", "memory": "512Mi", "gpu": true}""", 0.5, 512, 1)]
    [InlineData("""{"cpu": "0.25", "memory": "100M", "gpu": 2}""", 0.25, 96, 2)]
    [InlineData("""{"cpu": 2, "memory": 1048576}""", 2, 1, 0)]
    [InlineData("""{"cores": 3, "memoryMB": 700, "gpus": 1}""", 3, 700, 1)]
    [InlineData("""{"cpu": "", "memory": "1.5Gi"}""", 0, 1536, 0)]
    [InlineData("""{}""", 0, 0, 0)]
    public void Parses_KubernetesQuantitiesAndDaggyNumbers(string json, double cores, long memoryMB, int gpus)
    {
        var need = ResourceQuantities.Parse(JsonDocument.Parse(json).RootElement);
        Assert.Equal(cores, need.Cores, 9);
        Assert.Equal(memoryMB, need.MemoryMB);
        Assert.Equal(gpus, need.Gpus);
    }

    [Theory]
    [InlineData("""{"cpu": "1.5x"}""", "resource_requirements.cpu")]
    [InlineData("""{"cpu": "-2"}""", "resource_requirements.cpu")]
    [InlineData("""{"cpu": true}""", "resource_requirements.cpu")]
    [InlineData("""{"memory": "2GB"}""", "resource_requirements.memory")]
    [InlineData("""{"memory": "-1Gi"}""", "resource_requirements.memory")]
    [InlineData("""{"gpu": 1.5}""", "resource_requirements.gpu")]
    [InlineData("""{"cores": "2"}""", "resource_requirements.cores")]
    public void BadUnits_NameTheField(string json, string field)
    {
        var e = Assert.Throws<ResourceFormatException>(() => ResourceQuantities.Parse(JsonDocument.Parse(json).RootElement));
        Assert.Equal(field, e.Field);
    }
}
