// Sankey node names that would be drawn over each other or cut off are hidden, on the screen they are
// drawn on. Plotly writes each name beside its node at full length: on a phone (about 330 px for three
// columns) a middle column's names run across the last column's, and small nodes' names stack.
// The server cannot know the width, so names are kept here largest node first, and a name that
// overlaps one already kept or sticks out of the chart is hidden; hover still gives every node's
// whole name. Runs after every Plotly redraw (a resize redraws and shows every name again).
// Where that hides a name in the trust columns (every column after the first), a phone user could not
// tell which trust is which: those columns then show a number beside each node instead (a trust has
// the same number in both columns, the largest trust is 1) and a key under the chart says which trust
// each number is. The figure itself, and so every count, is unchanged.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    function overlap(a, b) {
        return Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
            && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
    }

    // Hide the names that stick out of the chart or cover text already kept, largest node first.
    // Returns the labels hidden.
    function hideColliding(gd, labels) {
        var box = gd.getBoundingClientRect();
        // Other text on the chart (title, notes) is never covered by a name either.
        var kept = [];
        gd.querySelectorAll(".infolayer text, .annotation-text").forEach(function (t) {
            var r = t.getBoundingClientRect();
            if (r.width > 0) { kept.push(r); }
        });
        var hidden = [];
        labels.forEach(function (label) {
            label.text.style.visibility = "";
            var r = label.text.getBoundingClientRect();
            if (r.width === 0) { return; }
            var outside = r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1;
            if (outside || kept.some(function (k) { return overlap(k, r); })) {
                label.text.style.visibility = "hidden";
                hidden.push(label);
            } else {
                kept.push(r);
            }
        });
        return hidden;
    }

    function nodeLabels(gd) {
        var labels = [];
        gd.querySelectorAll(".sankey-node").forEach(function (node) {
            var text = node.querySelector("text.node-label");
            var bar = node.querySelector(".node-rect");
            if (!text || !bar) { return; }
            // Plotly rewrites the name on every redraw: keep it to put back or to number.
            if (text.dataset.name === undefined || text.textContent !== text.dataset.number) {
                text.dataset.name = text.textContent;
            }
            text.textContent = text.dataset.name;
            // Plotly's node: its whole name (customdata, less the stage in brackets the column gives),
            // its patients and its column.
            var datum = (node.__data__ && node.__data__.node) || {};
            var whole = typeof datum.customdata === "string" ? datum.customdata.replace(/\s*\([^)]*\)$/, "") : "";
            labels.push({
                text: text,
                name: whole || text.dataset.name,
                size: bar.getBoundingClientRect().height,
                patients: datum.value || 0,
                column: datum.layer || 0
            });
        });
        labels.sort(function (a, b) { return b.size - a.size; });
        return labels;
    }

    function keyOf(gd) {
        var wrapper = gd.parentNode;
        var next = wrapper && wrapper.nextElementSibling;
        return next && next.classList.contains("sankey-key") ? next : null;
    }

    function removeKey(gd) {
        var key = keyOf(gd);
        if (key) { key.remove(); }
    }

    // Number the trust columns' names (largest trust first, over both columns) and list them in a key.
    function numberTrusts(gd, trustLabels) {
        var sizes = {};
        trustLabels.forEach(function (label) { sizes[label.name] = (sizes[label.name] || 0) + label.patients; });
        var names = Object.keys(sizes).sort(function (a, b) { return sizes[b] - sizes[a]; });
        var numbers = {};
        names.forEach(function (name, i) { numbers[name] = String(i + 1); });
        trustLabels.forEach(function (label) {
            label.text.dataset.number = numbers[label.name];
            label.text.textContent = numbers[label.name];
        });
        var key = keyOf(gd);
        if (!key) {
            key = document.createElement("ol");
            key.className = "sankey-key small";
            key.setAttribute("aria-label", "Trusts in the pathway flow, by number on the chart");
            gd.parentNode.insertAdjacentElement("afterend", key);
        }
        var items = names.map(function (name) { return numbers[name] + "\u00a0" + name; });
        if (key.dataset.items !== items.join("|")) {
            key.dataset.items = items.join("|");
            key.replaceChildren.apply(key, names.map(function (name) {
                var item = document.createElement("li");
                item.value = Number(numbers[name]);
                item.textContent = name;
                return item;
            }));
        }
    }

    function hasSankey(gd) {
        return Boolean(gd._fullData) && gd._fullData.some(function (trace) { return trace.type === "sankey"; });
    }

    function declutter(gd) {
        if (!hasSankey(gd)) {
            removeKey(gd);
            return;
        }
        var labels = nodeLabels(gd);
        if (!labels.length) { return; }
        var trustLabels = labels.filter(function (label) { return label.column > 0; });
        var hidden = hideColliding(gd, labels);
        if (!hidden.some(function (label) { return trustLabels.indexOf(label) >= 0; })) {
            trustLabels.forEach(function (label) { delete label.text.dataset.number; });
            removeKey(gd);
            return;
        }
        numberTrusts(gd, trustLabels);
        hideColliding(gd, labels);
    }

    // Plotly moves a Sankey's nodes and names into place over 500 ms after a redraw: names measured at
    // once are where they are passing through (the last column's were hidden as off the chart), so the
    // names are sorted again once they have arrived.
    var TRANSITION_MS = 500;

    function settle(gd) {
        declutter(gd);
        clearTimeout(gd.__sankeyLabelsTimer);
        gd.__sankeyLabelsTimer = setTimeout(function () { declutter(gd); }, TRANSITION_MS + 100);
    }

    // Once a chart has drawn a Sankey, every later draw of it is settled (one that is no longer a
    // Sankey loses its key).
    window.plotlyHooks.register({applies: hasSankey, afterDraw: settle});
})();
