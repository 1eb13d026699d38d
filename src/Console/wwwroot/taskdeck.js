// Small browser helpers for the console; everything else is server-rendered.
window.taskdeck = {
    // Minutes east of UTC (the opposite sign of getTimezoneOffset), and the zone's name for tooltips.
    timeZone: () => ({ offsetMinutes: -new Date().getTimezoneOffset(), name: Intl.DateTimeFormat().resolvedOptions().timeZone || "" }),
    // A cookie, not localStorage: the server reads it to render the first HTML in the chosen theme.
    setTheme: value => { document.cookie = `taskdeck.theme=${value}; path=/; max-age=31536000; SameSite=Lax`; },
    copy: async text => {
        try {
            await navigator.clipboard.writeText(text);
            return true;
        } catch {
            const area = document.createElement("textarea");
            area.value = text;
            document.body.appendChild(area);
            area.select();
            const ok = document.execCommand("copy");
            area.remove();
            return ok;
        }
    },
    scrollToEnd: element => { if (element) element.scrollTop = element.scrollHeight; },
};
