using System.Net;

namespace Taskdeck.Unit.Auth;

/// <summary>Every page (the console's, the Hangfire dashboard, the API docs) sends a person without a session to the sign-in page.</summary>
[Collection(AuthCollection.Name)]
public sealed class PageDoorTests(AuthHost host)
{
    [Theory]
    [InlineData("/")]
    [InlineData("/executions")]
    [InlineData("/executions/1")]
    [InlineData("/dags")]
    [InlineData("/dags/1")]
    [InlineData("/worktasks")]
    [InlineData("/workers")]
    [InlineData("/submit")]
    [InlineData("/audit")]
    [InlineData("/hangfire")]
    [InlineData("/hangfire/jobs/enqueued")]
    [InlineData("/api/docs")]
    [InlineData("/api/docs/index.html")]
    public async Task NoSession_RedirectsToSignIn_AndBack(string path)
    {
        var response = await host.Anonymous().GetAsync(path);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.OriginalString;
        Assert.StartsWith("/login?ReturnUrl=", location.Replace("http://localhost", ""));
        Assert.Contains(Uri.EscapeDataString(path), location);
    }

    [Fact]
    public async Task TheSignInPage_IsOpen_AndAFormThatPostsToLogin()
    {
        var response = await host.Anonymous().GetAsync("/login");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("action=\"/login\"", html);
        Assert.Contains("name=\"password\"", html);
        Assert.Contains("__RequestVerificationToken", html);
    }

    [Fact]
    public async Task AViewer_OpensPages_HangfireReadOnly_AndTheApiDocs_ButNotTheAuditPage()
    {
        var (viewer, _) = await host.SignedInAsync("Viewer");

        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/docs/index.html")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/hangfire/recurring")).StatusCode);

        var audit = await viewer.GetAsync("/audit");
        Assert.Equal(HttpStatusCode.Redirect, audit.StatusCode);
        Assert.StartsWith("/access-denied", audit.Headers.Location!.OriginalString.Replace("http://localhost", ""));

        // A dashboard action from a read-only role: 403 with a reason, never Hangfire's 401 or a 500.
        var action = await HangfireActionAsync(viewer);
        var problem = await AuthHost.ProblemAsync(action, HttpStatusCode.Forbidden, "viewer triggering a recurring job");
        Assert.Contains("read-only", (string?)problem["detail"]);
    }

    [Fact]
    public async Task AnAdmin_OpensTheAuditPage_AndHangfireWithItsActions()
    {
        var (admin, _) = await host.SignedInAsync("Admin");

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/audit")).StatusCode);
        var action = await HangfireActionAsync(admin);
        Assert.True(action.IsSuccessStatusCode, $"{(int)action.StatusCode}: {await action.Content.ReadAsStringAsync()}");
    }

    /// <summary>"Trigger now" on the recurring-jobs page, sent as the dashboard's own script sends it (with its antiforgery header).</summary>
    private static async Task<HttpResponseMessage> HangfireActionAsync(HttpClient client)
    {
        var page = await client.GetStringAsync("/hangfire/recurring");
        var token = System.Text.RegularExpressions.Regex.Match(page, "<meta name=\"csrf-token\" content=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(token);
        var request = new HttpRequestMessage(HttpMethod.Post, "/hangfire/recurring/trigger")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["jobs[]"] = "no-such-job" }),
        };
        request.Headers.Add("RequestVerificationToken", token);
        return await client.SendAsync(request);
    }
}
