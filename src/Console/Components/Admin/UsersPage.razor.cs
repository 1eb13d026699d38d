using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Access;

namespace Taskdeck.Console.Components.Admin;

/// <summary>People who sign in: add with a role and an initial password, change the role, delete (with confirmation).</summary>
public partial class UsersPage
{
    private IReadOnlyList<UserInfo>? _users;
    private string? _me;

    [Inject] public required IUserAdmin Users { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required TimeProvider Time { get; init; }
    [CascadingParameter] public Task<AuthenticationState>? Authentication { get; set; }

    protected override async Task OnInitializedAsync()
    {
        if (Authentication is not null) _me = (await Authentication).User.Identity?.Name;
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        try { _users = await Users.ListAsync(); }
        catch (Exception e) { Snackbar.Add($"Could not read the users: {e.Message}", Severity.Error); _users ??= []; }
    }

    private async Task AddAsync()
    {
        var dialog = await Dialogs.ShowAsync<AddUserDialog>("Add user", new DialogOptions { MaxWidth = MaxWidth.Small, FullWidth = true, CloseOnEscapeKey = true });
        if (await dialog.Result is { Canceled: false, Data: UserInfo added })
        {
            Snackbar.Add($"{added.Name} can now sign in as {added.Role}.", Severity.Success);
            await LoadAsync();
        }
    }

    private async Task SetRoleAsync(UserInfo user, string role)
    {
        if (!await Dialogs.ConfirmAsync($"Make {user.Name} {Article(role)} {role}?", $"{user.Name} is {Article(user.Role)} {user.Role}. {RoleMeaning(role)} Open sessions pick the new role up within a minute.", $"Make {role}")) return;
        try
        {
            await Users.SetRoleAsync(user.Name, role, await Actor.ForAsync(Taskdeck.Console.Auth.Policies.Admin));
            Snackbar.Add($"{user.Name} is now {Article(role)} {role}.", Severity.Success);
        }
        catch (AccessRequestException e) { Snackbar.Add(e.Message, Severity.Error); }
        await LoadAsync();
    }

    private async Task DeleteAsync(UserInfo user)
    {
        if (!await Dialogs.ConfirmAsync($"Delete {user.Name}?", $"{user.Name} ({user.Role}) will no longer be able to sign in; open sessions end within a minute. What they did stays in the audit trail.", "Delete")) return;
        try
        {
            if (await Users.DeleteAsync(user.Name, await Actor.ForAsync(Taskdeck.Console.Auth.Policies.Admin))) Snackbar.Add($"{user.Name} was deleted.", Severity.Success);
            else Snackbar.Add($"{user.Name} no longer exists.", Severity.Warning);
        }
        catch (AccessRequestException e) { Snackbar.Add(e.Message, Severity.Error); }
        await LoadAsync();
    }

    internal static Color RoleColor(string role) => role switch
    {
        AccessRoles.Admin => Color.Secondary,
        AccessRoles.Operator => Color.Primary,
        _ => Color.Default,
    };

    internal static string RoleMeaning(string role) => role switch
    {
        AccessRoles.Admin => "Admins may also run commands and manage users, tokens and settings.",
        AccessRoles.Operator => "Operators may cancel, retry, reset, delete and submit handler tasks, but not run commands.",
        _ => "Viewers may read everything and change nothing.",
    };

    private static string Article(string role) => role == AccessRoles.Admin || role == AccessRoles.Operator ? "an" : "a";

    private static string Initial(string name) => string.IsNullOrEmpty(name) ? "?" : name[..1].ToUpperInvariant();
}
