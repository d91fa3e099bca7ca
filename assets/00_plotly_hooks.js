// One watcher that finds the page's Plotly charts and runs the scripts that adjust a chart after it is
// drawn (chart_titles.js, map_fit.js, narrow_charts.js, sankey_labels.js register here). Neither Dash
// nor Plotly has an app-wide "a chart was drawn" hook: dcc.Graph has no such property, window.dash_clientside
// only holds clientside callbacks (which return figures, before they are drawn), and Plotly's
// plotly_afterplot is an event of one graph div. Dash adds chart divs, and replaces them with new ones,
// whenever a callback changes the page, so a single MutationObserver looks for them; each script used
// to run its own over every change to the page.
// Dash serves the assets folder's scripts in file-name order, hence the "00_": this one runs first.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    var hooks = [];

    // Run one script's handler; a failing script is reported without stopping the others.
    function run(hook, gd) {
        try {
            hook.afterDraw(gd);
        } catch (error) {
            window.setTimeout(function () { throw error; }, 0);
        }
    }

    // Whether the chart still has this record's listener: Plotly drops every listener of a div it
    // draws afresh (Plotly.purge, or Plotly.newPlot over a drawn chart), and the hooks then start over.
    function listening(gd, record) {
        return Boolean(gd._ev) && gd._ev.listeners("plotly_afterplot").indexOf(record.listener) >= 0;
    }

    // The chart's record: the hooks running on it, and the one plotly_afterplot listener that runs them.
    // Kept on the div itself, so a div Dash replaces takes its record with it and the new div gets its own.
    function recordOf(gd) {
        var record = gd.__plotlyHooks;
        if (record && listening(gd, record)) { return record; }
        record = {hooks: []};
        record.listener = function () {
            record.hooks.slice().forEach(function (hook) { run(hook, gd); });
        };
        gd.__plotlyHooks = record;
        gd.on("plotly_afterplot", record.listener);
        return record;
    }

    function scan() {
        document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
            if (!gd.on) { return; }  // Plotly has not drawn it yet
            var record = recordOf(gd);
            hooks.forEach(function (hook) {
                var attached = record.hooks.indexOf(hook) >= 0;
                if ((attached && !hook.onEveryChange) || !hook.applies(gd)) { return; }
                if (!attached) { record.hooks.push(hook); }
                run(hook, gd);
            });
        });
    }

    window.plotlyHooks = {
        // Run afterDraw(gd) on each chart for which applies(gd) is true (every chart when it is left out):
        // once when the chart is first found so, then after every Plotly draw of that div (a new figure,
        // Plotly.react, a resize), even if applies(gd) is false by then. With onEveryChange, afterDraw
        // also runs on every change to the page while applies(gd) holds (for a script that retries
        // until the chart is ready for it). A chart's hook is attached once, however often it is found.
        register: function (options) {
            hooks.push({
                applies: options.applies || function () { return true; },
                afterDraw: options.afterDraw,
                onEveryChange: Boolean(options.onEveryChange)
            });
        }
    };

    new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
})();
