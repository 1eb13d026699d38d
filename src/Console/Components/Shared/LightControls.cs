using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;

namespace Taskdeck.Console.Components.Shared;

/// <summary>
/// MudIconButton's and MudCheckBox's markup (their classes, so they look and ripple the same) drawn without a component of
/// their own, for controls repeated on every row of a grid: every component is kept with its render tree by every open page
/// (issue 15), and a grid row's three MudIconButtons and MudCheckBox were ten of its eighteen. Each stops its click where
/// the MudBlazor component does: a grid row clicked anywhere ticks itself, so the row would otherwise take the click too.
/// <see cref="StateChip"/> draws MudChip's markup the same way. The owner passed in is the component whose handlers these
/// are (it renders again after one runs, as it would for its own markup). The elements carry no CSS scope of their caller:
/// a scoped rule reaches them only through <c>::deep</c> (their own focus ring is in app.css).
/// </summary>
public static class LightControls
{
    /// <summary>A small icon button in <paramref name="color"/> ("primary", "error" …), named by <paramref name="label"/>.</summary>
    public static RenderFragment IconButton(IHandleEvent owner, string icon, string color, bool disabled, string label, Func<Task> onClick, string? extraClass = null) => builder =>
    {
        builder.OpenElement(0, "button");
        builder.AddAttribute(1, "type", "button");
        builder.AddAttribute(2, "class", $"mud-button-root mud-icon-button mud-{color}-text hover:mud-{color}-hover mud-ripple mud-ripple-icon mud-icon-button-size-small{(extraClass is null ? "" : " " + extraClass)}");
        builder.AddAttribute(3, "aria-label", label);
        builder.AddAttribute(4, "disabled", disabled);
        builder.AddAttribute(5, "onclick", EventCallback.Factory.Create<MouseEventArgs>(owner, onClick));
        builder.AddEventStopPropagationAttribute(6, "onclick", true);
        builder.OpenElement(7, "span");
        builder.AddAttribute(8, "class", "mud-icon-button-label");
        builder.AddMarkupContent(9, Svg("mud-icon-size-small", icon));
        builder.CloseElement();
        builder.CloseElement();
    };

    /// <summary>
    /// A checkbox named by <paramref name="label"/>, whose change goes to <paramref name="onChange"/>. A callback the caller
    /// keeps across renders is the same attribute value at each render: Blazor then sends the browser no new handler for it.
    /// </summary>
    public static RenderFragment CheckBox(bool selected, string label, EventCallback<ChangeEventArgs> onChange) => builder =>
    {
        builder.OpenElement(0, "div");
        builder.AddAttribute(1, "class", "mud-input-control mud-input-control-boolean-input");
        builder.OpenElement(2, "div");
        builder.AddAttribute(3, "class", "mud-input-control-input-container");
        builder.OpenElement(4, "label");
        builder.AddAttribute(5, "class", "mud-checkbox mud-input-content-placement-end");
        builder.AddEventStopPropagationAttribute(6, "onclick", true);
        builder.OpenElement(7, "span");
        builder.AddAttribute(8, "class", $"mud-button-root mud-icon-button mud-default-text hover:mud-default-hover mud-ripple mud-ripple-checkbox mud-checkbox-{(selected ? "true" : "false")}");
        builder.OpenElement(9, "input");
        builder.AddAttribute(10, "type", "checkbox");
        builder.AddAttribute(11, "class", "mud-checkbox-input light-checkbox-input");
        builder.AddAttribute(12, "aria-label", label);
        builder.AddAttribute(13, "checked", selected);
        builder.AddAttribute(14, "onchange", onChange);
        builder.CloseElement();
        builder.AddMarkupContent(15, Svg("mud-icon-size-medium", selected ? Icons.Material.Filled.CheckBox : Icons.Material.Filled.CheckBoxOutlineBlank));
        builder.CloseElement();
        builder.CloseElement();
        builder.CloseElement();
        builder.CloseElement();
    };

    // A handful of constant icons (MudBlazor's Icons), drawn on every row at every render: each svg's text is made once.
    // Only constants: the cache keeps every icon it is given.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Size, string Icon), string> Svgs = new();

    private static string Svg(string size, string icon) => Svgs.GetOrAdd((size, icon), key =>
        $"<svg class=\"mud-icon-root mud-svg-icon {key.Size}\" focusable=\"false\" viewBox=\"0 0 24 24\" aria-hidden=\"true\" role=\"img\">{key.Icon}</svg>");
}
