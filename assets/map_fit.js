// Fit London's maps to the screen they are drawn on. The server builds each map for a
// desktop-width view and cannot know the browser's width, so on first draw a map whose
// boundaries are inline is re-centred and re-zoomed once to show all its areas.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    function bounds(features) {
        var west = 180, east = -180, south = 90, north = -90;
        function visit(c) {
            if (typeof c[0] === "number") {
                west = Math.min(west, c[0]); east = Math.max(east, c[0]);
                south = Math.min(south, c[1]); north = Math.max(north, c[1]);
            } else { c.forEach(visit); }
        }
        features.forEach(function (f) { if (f.geometry) { visit(f.geometry.coordinates); } });
        return west < east ? [[west, south], [east, north]] : null;
    }

    function fit(gd) {
        var layout = gd._fullLayout, data = gd._fullData;
        if (gd.__londonFitted || !layout || !layout.map || !layout.map._subplot || !data || !data.length) { return; }
        var geojson = data[0].geojson;
        if (!geojson || typeof geojson !== "object" || !geojson.features) { return; }
        var box = bounds(geojson.features);
        var map = layout.map._subplot.map;
        if (!box || !map || !window.Plotly) { return; }
        gd.__londonFitted = true;
        var camera = map.cameraForBounds(box, {padding: 12});
        if (!camera) { return; }
        var view = {center: camera.center, zoom: Math.min(camera.zoom, layout.map.zoom + 0.5)};
        // Move MapLibre's camera directly (a Plotly.relayout needs Plotly's layers, which may
        // not exist yet), and again after each Plotly redraw, which restores the server's view,
        // until the user pans or zooms the map themselves.
        gd.__londonView = view;
        map.jumpTo(view);
        gd.on("plotly_afterplot", function () {
            var current = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            if (gd.__londonView && current && current.map) { current.map.jumpTo(gd.__londonView); }
        });
        map.on("idle", function () {
            var v = gd.__londonView;
            if (v && Math.abs(map.getZoom() - v.zoom) > 0.01) { map.jumpTo(v); }
        });
        gd.on("plotly_relayout", function (change) {
            if (change && (change["map.zoom"] !== undefined || change["map.center"] !== undefined)) {
                gd.__londonView = null;
            }
        });
    }

    function scan() {
        document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
            if (gd._fullLayout && gd._fullLayout.map) { fit(gd); }
        });
    }

    new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
})();
