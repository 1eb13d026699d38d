using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace Taskdeck.Console.Hosting;

/// <summary>
/// The one configuration file is <c>appsettings.json</c> at the repository root, whether the console is started with
/// <c>dotnet run --project src/Console</c> (whose working folder is the project) or from its build output.
/// Relative paths (the SQLite file under <c>data/</c>) are resolved against the same folder.
/// </summary>
public static class RootSettings
{
    public static string FindRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Console.sln")) && File.Exists(Path.Combine(dir.FullName, "appsettings.json")))
                return dir.FullName;
        return AppContext.BaseDirectory;
    }

    /// <summary>Adds the root file just after the content root's own appsettings.json, so environment variables still win.</summary>
    public static string AddRootSettings(this ConfigurationManager configuration, string contentRoot)
    {
        var root = FindRoot();
        if (Path.GetFullPath(root).TrimEnd('/') == Path.GetFullPath(contentRoot).TrimEnd('/')) return root;
        var sources = configuration.Sources;
        var after = sources.Select((s, i) => (s, i)).FirstOrDefault(x => x.s is JsonConfigurationSource { Path: "appsettings.json" }).i;
        var index = sources.Count > 0 && sources.OfType<JsonConfigurationSource>().Any() ? after + 1 : 0;
        sources.Insert(index, new JsonConfigurationSource
        {
            Path = "appsettings.json", Optional = true, ReloadOnChange = false, FileProvider = new PhysicalFileProvider(root),
        });
        return root;
    }
}
