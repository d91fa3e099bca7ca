// A chart's phone variant where the chart is narrow. The server cannot know the screen, and some
// figures that read well across a desktop's chart squeeze a phone's: Plotly wraps a horizontal legend
// at the plot's width in columns as wide as its widest entry, so long tick labels or legend names left
// a phone a five-row legend over a plot ~110 px wide. Such a figure carries layout.meta.narrow and
// layout.meta.wide (components.charts.phone_variant): the same layout properties (as Plotly.relayout
// takes them) and trace properties (one value a trace), with the values for each width. The figure
// is sent wide; where the chart is narrower than NARROW_PX it is redrawn with the narrow values, and
// with the wide ones again where it widens (a rotated phone, a resized window).
// Runs after every Plotly redraw, which a window resize and every new figure cause.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    var NARROW_PX = 480;  // charts.NARROW_CHART_PX

    // A layout property by its relayout name ("yaxis.ticktext", "shapes[1].showlegend").
    function layoutValue(layout, key) {
        var value = layout;
        key.replace(/\[(\d+)\]/g, ".$1").split(".").forEach(function (part) {
            value = value === undefined || value === null ? undefined : value[part];
        });
        return value;
    }

    function same(a, b) {
        // A property the figure never set reads undefined; the variant names it null (Plotly's default).
        return JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
    }

    function isDrawn(gd, variant) {
        var layout = variant.layout || {};
        var data = variant.data || {};
        return Object.keys(layout).every(function (key) {
            return same(layoutValue(gd.layout, key), layout[key]);
        }) && Object.keys(data).every(function (key) {
            return data[key].every(function (value, i) { return !gd.data[i] || same(gd.data[i][key], value); });
        });
    }

    function fit(gd) {
        var meta = gd.layout && gd.layout.meta;
        var layout = gd._fullLayout;
        if (!meta || !meta.narrow || !meta.wide || !layout || !window.Plotly) { return; }
        var variant = layout.width < NARROW_PX ? meta.narrow : meta.wide;
        if (isDrawn(gd, variant)) { return; }
        var data = variant.data || {};
        // Only the traces the server built: a page may add its own after them.
        var count = Object.keys(data).reduce(function (n, key) { return Math.max(n, data[key].length); }, 0);
        var traces = [];
        for (var i = 0; i < Math.min(count, gd.data.length); i++) { traces.push(i); }
        window.Plotly.update(gd, data, variant.layout || {}, traces);
    }

    window.plotlyHooks.register({
        // After the draw, not inside it: an update from within plotly_afterplot, while Plotly is
        // still settling the automatic margins, had it give up ("Too many auto-margin redraws").
        afterDraw: function (gd) { window.setTimeout(function () { fit(gd); }, 0); }
    });
})();
