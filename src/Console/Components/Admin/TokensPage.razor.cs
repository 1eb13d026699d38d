using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Access;

namespace Taskdeck.Console.Components.Admin;

/// <summary>API tokens: name, scopes, expiry, last use, revocation; created in a dialog that shows the secret once.</summary>
public partial class TokensPage
{
    private IReadOnlyList<ApiTokenInfo>? _tokens;

    [Inject] public required IApiTokens Tokens { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required TimeProvider Time { get; init; }
    [Inject] public required ClientTime Clock { get; init; }

    private DateTimeOffset Now => Time.GetUtcNow();

    protected override Task OnInitializedAsync() => LoadAsync();

    private async Task LoadAsync()
    {
        try { _tokens = await Tokens.ListAsync(); }
        catch (Exception e) { Snackbar.Add($"Could not read the tokens: {e.Message}", Severity.Error); _tokens ??= []; }
    }

    private async Task CreateAsync()
    {
        // Not closed by a click outside or Escape once the secret shows: it is the only time it can be copied.
        var dialog = await Dialogs.ShowAsync<CreateTokenDialog>("Create API token",
            new DialogOptions { MaxWidth = MaxWidth.Small, FullWidth = true, BackdropClick = false, CloseOnEscapeKey = false });
        await dialog.Result;
        await LoadAsync();
    }

    private async Task RevokeAsync(ApiTokenInfo token)
    {
        if (!await Dialogs.ConfirmAsync($"Revoke {token.Name}?", $"Every call with this token ({token.Prefix}…) is refused from now on. This cannot be undone: a new token would have a new secret.", "Revoke")) return;
        if (await Tokens.RevokeAsync(token.Id, await Actor.ForAsync(Taskdeck.Console.Auth.Policies.Admin))) Snackbar.Add($"{token.Name} is revoked.", Severity.Success);
        else Snackbar.Add($"{token.Name} was already revoked.", Severity.Warning);
        await LoadAsync();
    }

    internal static Color ScopeColor(string scope) => scope switch
    {
        AccessScopes.Admin or AccessScopes.Commands => Color.Secondary,
        AccessScopes.Operate or AccessScopes.Submit => Color.Primary,
        _ => Color.Default,
    };
}
