// Chart titles on one line where the chart is wide enough for it. Plotly never wraps text, and the
// server cannot know the screen, so components.charts.chart_layout_settings breaks every title into
// lines that fit a 390 px phone (with the top margin and legend placed under those lines). On a
// desktop's wide chart that left "London: by deprivation quintile" on two lines beside empty space.
// Where the whole title fits across the chart it is put back on one line, and the margin and legend
// moved up by the lines saved; where it no longer fits (the window narrowed) the server's lines come
// back. Only titles laid out by chart_layout_settings (placed on the container) are touched.
// Runs after every Plotly redraw, which a window resize and every new figure cause.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    var LINE_PX = 20;      // charts._TITLE_LINE_PX: the height each title line adds
    var BASELINE_PX = 12;  // charts._TITLE_BASELINE_PX: the extra top pad of a title of several lines

    // The title as the server sent it (its lines, top pad, margin and legend place) for this figure.
    function serverTitle(gd) {
        var layout = gd.layout || {};
        var title = layout.title;
        if (!title || typeof title.text !== "string" || title.yref !== "container") { return null; }
        var saved = gd.__serverTitle;
        if (saved && (title.text === saved.text || title.text === saved.oneLine)) { return saved; }
        if (title.text.indexOf("<br>") < 0) { return null; }
        gd.__serverTitle = {
            text: title.text,
            oneLine: title.text.split("<br>").join(" "),
            lines: title.text.split("<br>").length,
            padTop: (title.pad && title.pad.t) || 0,
            marginTop: (layout.margin && layout.margin.t) || 0,
            legendY: layout.legend && typeof layout.legend.y === "number" ? layout.legend.y : null
        };
        return gd.__serverTitle;
    }

    // How wide the title would be on one line: its drawn lines end to end, with a space between each.
    function oneLineWidth(gd) {
        var text = gd.querySelector(".g-gtitle text.gtitle, text.gtitle");
        if (!text) { return null; }
        var lines = text.querySelectorAll("tspan.line");
        var parts = lines.length ? Array.prototype.slice.call(lines) : [text];
        var width = 0;
        parts.forEach(function (part) { width += part.getBoundingClientRect().width; });
        var fontPx = parseFloat(getComputedStyle(text).fontSize) || 15;
        return width + (parts.length - 1) * 0.3 * fontPx;
    }

    function fit(gd) {
        var saved = serverTitle(gd);
        var layout = gd._fullLayout;
        if (!saved || !layout || !window.Plotly || gd.offsetParent === null) { return; }
        var width = oneLineWidth(gd);
        if (!width) { return; }  // not drawn (a hidden view): measured when it is
        var inset = (gd.layout.title.pad && gd.layout.title.pad.l) || 0;
        var fits = width + 2 * inset + 4 <= layout.width;
        var isOneLine = gd.layout.title.text === saved.oneLine;
        if (fits === isOneLine) { return; }
        var saving = fits ? LINE_PX * (saved.lines - 1) : 0;
        var update = {
            "title.text": fits ? saved.oneLine : saved.text,
            "title.pad.t": fits ? saved.padTop - BASELINE_PX : saved.padTop,
            "margin.t": saved.marginTop - saving
        };
        if (saved.legendY !== null) {
            // The legend's top, in px from the figure's top, moves up with the title.
            update["legend.y"] = 1 - ((1 - saved.legendY) * layout.height - saving) / layout.height;
        }
        window.Plotly.relayout(gd, update);
    }

    window.plotlyHooks.register({afterDraw: fit});
})();
