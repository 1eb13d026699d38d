using Taskdeck.Console.Api;
using Taskdeck.Console.Auth;
using Taskdeck.Console.Cli;
using Taskdeck.Console.Components;
using Taskdeck.Console.CrossSite;
using Taskdeck.Console.Hosting;
using Taskdeck.Console.WorkTasks;
using Taskdeck.Core;
using Taskdeck.Data.Storage;

// `-- users …` / `-- tokens …`: the command line, which exits without starting the server.
if (TaskdeckCli.IsCommand(args)) return await TaskdeckCli.RunAsync(args, Console.In, Console.Out, Console.Error);

var builder = WebApplication.CreateBuilder(args);
var root = builder.Configuration.AddRootSettings(builder.Environment.ContentRootPath);

builder.Services.AddTaskdeckCore(builder.Configuration);
builder.Services.AddTaskdeckAdapters();
builder.Services.AddTaskdeckData(builder.Configuration, root);
builder.Services.AddTaskdeckHangfire(builder.Configuration);
builder.Services.AddTaskdeckApi(builder.Configuration);
builder.Services.AddTaskdeckAuth(builder.Configuration);
builder.Services.AddTaskdeckConsole();
builder.Services.AddTaskdeckFootprint(builder.Configuration);
builder.Services.AddTaskdeckCrossSite();

var app = builder.Build();

app.UseTaskdeckSecurityHeaders();
app.UseTaskdeckErrors();
app.UseTaskdeckRequestLimits();
// Authentication first: the cross-site guard checks a cookie call's antiforgery token against the signed-in user,
// and refuses before any policy is run.
app.UseTaskdeckAuthentication();
app.UseTaskdeckCrossSiteGuard();
app.UseTaskdeckAuthorization();
app.UseTaskdeckHangfireGuard();
app.UseWorkTasks();
app.UseTaskdeckApiDocs();
app.UseAntiforgery();
// After authentication, so that a signed-in principal is limited by name rather than address.
app.UseTaskdeckRateLimits();
app.MapStaticAssets().AllowAnonymous();
app.MapTaskdeckSignIn();
app.MapTaskdeckApi();
app.MapTaskdeckHangfireDashboard();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode(o => o.DisableWebSocketCompression = !Footprint.CompressesCircuitSockets(app.Configuration));

app.Run();
return 0;

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
