// Sankey node names that would be drawn over each other or cut off are hidden, on the screen they are
// drawn on. Plotly writes each name beside its node at full length: on a phone (about 330 px for three
// columns) a middle column's names run across the last column's, and small nodes' names stack.
// The server cannot know the width, so names are kept here largest node first, and a name that
// overlaps one already kept or sticks out of the chart is hidden; hover still gives every node's
// whole name. Runs after every Plotly redraw (a resize redraws and shows every name again).
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    function overlap(a, b) {
        return Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
            && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
    }

    function declutter(gd) {
        var box = gd.getBoundingClientRect();
        var labels = [];
        gd.querySelectorAll(".sankey-node").forEach(function (node) {
            var text = node.querySelector("text.node-label");
            var bar = node.querySelector(".node-rect");
            if (!text || !bar) { return; }
            text.style.visibility = "";
            labels.push({text: text, size: bar.getBoundingClientRect().height});
        });
        labels.sort(function (a, b) { return b.size - a.size; });
        // Other text on the chart (title, notes) is never covered by a name either.
        var kept = [];
        gd.querySelectorAll(".infolayer text, .annotation-text").forEach(function (t) {
            var r = t.getBoundingClientRect();
            if (r.width > 0) { kept.push(r); }
        });
        labels.forEach(function (label) {
            var r = label.text.getBoundingClientRect();
            if (r.width === 0) { return; }
            var outside = r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1;
            if (outside || kept.some(function (k) { return overlap(k, r); })) {
                label.text.style.visibility = "hidden";
            } else {
                kept.push(r);
            }
        });
    }

    function scan() {
        document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
            if (gd.__sankeyLabelsHooked || !gd.on || !gd._fullData) { return; }
            if (!gd._fullData.some(function (trace) { return trace.type === "sankey"; })) { return; }
            gd.__sankeyLabelsHooked = true;
            gd.on("plotly_afterplot", function () { declutter(gd); });
            declutter(gd);
        });
    }

    new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
})();
