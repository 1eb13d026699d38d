using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Taskdeck.Console.Auth;

namespace Taskdeck.Unit.Auth;

/// <summary>OpenID Connect is wired from <c>Taskdeck:Auth:Oidc:*</c> (there is no identity provider here to sign in with).</summary>
public sealed class OidcOptionsTests
{
    private static ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddTaskdeckAuth(configuration);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task TheSettings_BindToTheOidcScheme()
    {
        using var services = Services(new()
        {
            ["Taskdeck:Auth:Oidc:Authority"] = "https://login.example.org/realms/ops",
            ["Taskdeck:Auth:Oidc:ClientId"] = "taskdeck",
            ["Taskdeck:Auth:Oidc:ClientSecret"] = "s3cret",
            ["Taskdeck:Auth:Oidc:RoleClaim"] = "groups",
        });

        var scheme = await services.GetRequiredService<IAuthenticationSchemeProvider>().GetSchemeAsync(AuthSchemes.Oidc);
        Assert.Equal(typeof(OpenIdConnectHandler), scheme?.HandlerType);
        var options = services.GetRequiredService<IOptionsMonitor<OpenIdConnectOptions>>().Get(AuthSchemes.Oidc);
        Assert.Equal("https://login.example.org/realms/ops", options.Authority);
        Assert.Equal("taskdeck", options.ClientId);
        Assert.Equal("s3cret", options.ClientSecret);
        Assert.Equal("groups", options.TokenValidationParameters.RoleClaimType);
        Assert.Equal(AuthSchemes.Cookie, options.SignInScheme);
        Assert.Equal("code", options.ResponseType);
    }

    [Fact]
    public async Task WithoutAnAuthority_ThereIsNoOidcScheme()
    {
        using var services = Services(new());

        Assert.Null(await services.GetRequiredService<IAuthenticationSchemeProvider>().GetSchemeAsync(AuthSchemes.Oidc));
    }

    [Fact]
    public void AClientIdWithoutAnAuthority_StopsTheStart_NamingTheSetting()
    {
        using var services = Services(new() { ["Taskdeck:Auth:Oidc:ClientId"] = "taskdeck" });

        var e = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<AuthOptions>>().Value);
        Assert.Contains("Taskdeck:Auth:Oidc:Authority", e.Message);
    }

    [Theory]
    [InlineData("ops Operator", "Operator")]
    [InlineData("viewer,admin", "Admin")]
    [InlineData("nothing", null)]
    public void TheRoleClaim_GivesTheHighestTaskdeckRole(string values, string? role)
    {
        var external = new ClaimsPrincipal(new ClaimsIdentity([new Claim("preferred_username", "dana"), new Claim("groups", values)], "oidc"));

        var principal = AuthSetup.OidcPrincipal(external, new OidcOptions { RoleClaim = "groups" });

        Assert.Equal("dana", principal.Identity?.Name);
        Assert.Equal(role, Permissions.RoleOf(principal));
        Assert.Equal(Permissions.Person, Permissions.KindOf(principal));
    }
}
