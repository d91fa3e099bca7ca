// A chart in a hidden view is drawn when its view is shown, not while it is hidden.
// The pages keep every view of a view switch in the layout (components.layout.view_switch: the panes not
// shown are display: none), so dcc.Graph drew every chart of every view as the page opened: on
// /hypertension ten charts nobody could see, each drawn at Plotly's default size and drawn again at its
// real size when its view was opened (bench/results/2026-11-30-main-thread.md). Here Plotly.react on a
// chart that is not rendered (no box: it or a parent is display: none) waits, and draws with the same
// figure once the chart has a box (a ResizeObserver sees it appear). dcc.Graph queues its draws one after
// another on the promise Plotly.react returns, so a figure sent while the chart waits is drawn after it.
// Plotly is loaded on demand by dcc.Graph: it is wrapped the moment it is assigned to window.Plotly. Any
// hook another script put on window.Plotly first (a test's or a benchmark's probe) is kept.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    var waiting = new Map();  // chart div -> {draw: its latest draw, settle: the promises that wait for it}

    function rendered(gd) {
        return gd.isConnected && gd.getClientRects().length > 0;
    }

    var observer = new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
            var gd = entry.target;
            var pending = waiting.get(gd);
            if (!pending || !rendered(gd)) { return; }
            waiting.delete(gd);
            observer.unobserve(gd);
            pending.draw().then(
                function (result) { pending.settle.forEach(function (s) { s.resolve(result); }); },
                function (error) { pending.settle.forEach(function (s) { s.reject(error); }); }
            );
        });
    });

    function wrap(plotly) {
        var react = plotly && plotly.react;
        if (typeof react !== "function" || react.waitsUntilShown) { return; }
        var whenShown = function (gd) {
            var element = typeof gd === "string" ? document.getElementById(gd) : gd;
            var self = this;
            var args = arguments;
            var draw = function () { return react.apply(self, args); };
            // Not an element in the page (Plotly's own error for a bad id, a div not yet attached): draw now.
            if (!element || !element.isConnected || rendered(element)) { return draw(); }
            return new Promise(function (resolve, reject) {
                // A second draw while the chart waits replaces the first: only the latest figure is drawn.
                var pending = waiting.get(element) || {settle: []};
                pending.draw = draw;
                pending.settle.push({resolve: resolve, reject: reject});
                waiting.set(element, pending);
                observer.observe(element);
            });
        };
        whenShown.waitsUntilShown = true;
        plotly.react = whenShown;
    }

    var earlier = Object.getOwnPropertyDescriptor(window, "Plotly");
    var plotly = earlier && "value" in earlier ? earlier.value : undefined;
    Object.defineProperty(window, "Plotly", {
        configurable: true,
        get: function () { return earlier && earlier.get ? earlier.get.call(window) : plotly; },
        set: function (value) {
            if (earlier && earlier.set) { earlier.set.call(window, value); } else { plotly = value; }
            wrap(value);
        }
    });
    wrap(plotly);
})();
