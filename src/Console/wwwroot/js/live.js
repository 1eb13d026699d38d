// Live views: what the browser knows and the server cannot see. Loaded as a module by the layout and the grid pages.

// Page Visibility API: a hidden tab tells the server, which stops sending it updates until it is shown again.
export function watchVisibility(dotnet) {
    // Once the server has taken it, the page says so (data-live-hidden on <html>): what it shows from then on is what the
    // server sent a tab in that state.
    const report = () => {
        const hidden = document.visibilityState === "hidden";
        dotnet.invokeMethodAsync("SetHidden", hidden)
            .then(() => { document.documentElement.dataset.liveHidden = String(hidden); })
            .catch(() => { });
    };
    document.addEventListener("visibilitychange", report);
    if (document.visibilityState === "hidden") report();
    return { dispose: () => document.removeEventListener("visibilitychange", report) };
}

// The operator reads: text is selected inside the element (to copy an id, an error). Rows must not move under it, so the
// page holds its updates until the selection is cleared or the "updates paused" chip is clicked.
export function watchReading(element, dotnet) {
    let reading = false;
    const check = () => {
        const selection = document.getSelection();
        const now = !!selection && !selection.isCollapsed && selection.rangeCount > 0
            && element.contains(selection.getRangeAt(0).commonAncestorContainer);
        if (now === reading) return;
        reading = now;
        dotnet.invokeMethodAsync("SetReading", now).catch(() => { });
    };
    document.addEventListener("selectionchange", check);
    // Text selected before the page began to watch (the watch starts a round trip after the first render) is reading too.
    check();
    return { dispose: () => document.removeEventListener("selectionchange", check) };
}

export function clearSelection() {
    document.getSelection()?.removeAllRanges();
}
