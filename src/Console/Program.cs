using Taskdeck.Console.Api;
using Taskdeck.Console.Components;
using Taskdeck.Console.CrossSite;
using Taskdeck.Console.Hosting;
using Taskdeck.Console.WorkTasks;
using Taskdeck.Core;
using Taskdeck.Data.Storage;

var builder = WebApplication.CreateBuilder(args);
var root = builder.Configuration.AddRootSettings(builder.Environment.ContentRootPath);

builder.Services.AddTaskdeckCore(builder.Configuration);
builder.Services.AddTaskdeckData(builder.Configuration, root);
builder.Services.AddTaskdeckHangfire(builder.Configuration);
builder.Services.AddTaskdeckApi(builder.Configuration);
builder.Services.AddTaskdeckConsole();
builder.Services.AddTaskdeckCrossSite();

var app = builder.Build();

app.UseTaskdeckSecurityHeaders();
app.UseTaskdeckErrors();
app.UseTaskdeckRequestLimits();
app.UseTaskdeckCrossSiteGuard();
app.UseWorkTasks();
app.UseTaskdeckApiDocs();
app.UseAntiforgery();
// After authentication (when a scheme runs), so that a signed-in principal is limited by name rather than address.
app.UseTaskdeckRateLimits();
app.MapStaticAssets();
app.MapTaskdeckApi();
app.MapTaskdeckHangfireDashboard();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

app.Run();

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
