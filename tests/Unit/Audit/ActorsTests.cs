using System.Security.Claims;
using Taskdeck.Console.Audit;
using Taskdeck.Core.Audit;

namespace Taskdeck.Unit.Audit;

/// <summary>The one mapping from a signed-in principal to the audit trail's actor, for every kind of credential.</summary>
public sealed class ActorsTests
{
    private static ClaimsPrincipal Principal(string scheme, string name, string? kind)
    {
        var identity = new ClaimsIdentity(scheme, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(new Claim(ClaimTypes.Name, name));
        if (kind is not null) identity.AddClaim(new Claim(Actors.KindClaim, kind));
        return new ClaimsPrincipal(identity);
    }

    [Theory]
    [InlineData("Identity.Application", "alice", "person", ActorKind.User)]
    [InlineData("ApiToken", "token:ci", "token", ActorKind.ApiToken)]
    [InlineData("WorkerToken", "worker", "worker", ActorKind.ApiToken)]
    [InlineData("Anonymous", "anonymous", "anonymous", ActorKind.Anonymous)]
    [InlineData("oidc", "bob@example.com", null, ActorKind.User)]
    [InlineData("ApiToken", "token:legacy", null, ActorKind.ApiToken)]
    public void APrincipal_BecomesAnActor_OfItsKind_WithItsNameAndAddress(string scheme, string name, string? kind, ActorKind expected)
    {
        var actor = Actors.FromPrincipal(Principal(scheme, name, kind), "10.0.0.9");

        Assert.Equal(new Actor(name, expected, "10.0.0.9"), actor);
    }

    [Fact]
    public void NobodySignedIn_IsAnonymous_FromItsAddress()
    {
        Assert.Equal(Actor.Anonymous("10.0.0.9"), Actors.FromPrincipal(new ClaimsPrincipal(new ClaimsIdentity()), "10.0.0.9"));
        Assert.Equal(Actor.Anonymous(), Actors.FromPrincipal(null, null));
    }
}
