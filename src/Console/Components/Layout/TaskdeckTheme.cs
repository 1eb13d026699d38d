using MudBlazor;

namespace Taskdeck.Console.Components.Layout;

/// <summary>A calm teal/slate theme: readable tables, state colours that stand out from the chrome.</summary>
public static class TaskdeckTheme
{
    public static readonly MudTheme Theme = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#00796b",
            Secondary = "#455a64",
            Tertiary = "#5c6bc0",
            Info = "#1e88e5",
            Success = "#2e9d5b",
            Warning = "#e08a00",
            Error = "#d64545",
            AppbarBackground = "#17313a",
            AppbarText = "#e8f1f2",
            Background = "#f4f6f8",
            Surface = "#ffffff",
            DrawerBackground = "#ffffff",
            DrawerText = "#263238",
            DrawerIcon = "#455a64",
            TextPrimary = "#1f2a30",
            TextSecondary = "#5b6b73",
            TableLines = "#e3e8eb",
            LinesDefault = "#dfe4e7",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#4db6ac",
            Secondary = "#90a4ae",
            Tertiary = "#9fa8da",
            Info = "#64b5f6",
            Success = "#5cc48a",
            Warning = "#ffb74d",
            Error = "#ef6f6f",
            AppbarBackground = "#10191d",
            Background = "#151d21",
            Surface = "#1c262b",
            DrawerBackground = "#182226",
            TextPrimary = "#e3eaed",
            TextSecondary = "#9fb0b8",
            TableLines = "#2b373d",
            LinesDefault = "#2b373d",
        },
        Typography = new Typography
        {
            Default = new DefaultTypography { FontFamily = ["Inter", "Segoe UI", "Roboto", "Liberation Sans", "Helvetica", "Arial", "sans-serif"] },
        },
        LayoutProperties = new LayoutProperties { DefaultBorderRadius = "6px", DrawerWidthLeft = "220px" },
    };
}
