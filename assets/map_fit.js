// Fit London's maps to the screen they are drawn on. The server picks each map's centre and
// zoom for a desktop-width map and cannot know the browser's width, so it also names what must
// stay in sight (layout.meta.fit_bounds: all London, or the boroughs it zoomed to). On first
// draw, and whenever the server moves the map to new bounds, the map is re-centred and zoomed to
// show those bounds on this screen (out on a phone, in by at most half a step on a wide screen).
// A map without fit_bounds keeps the server's view. Works the same whether the boundaries are
// inline or fetched by URL: the bounds come from the layout, not from the geometry.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    function fitBounds(gd) {
        var meta = gd.layout && gd.layout.meta;
        return (meta && meta.fit_bounds) || null;
    }

    function fit(gd) {
        var layout = gd._fullLayout;
        if (!layout || !layout.map || !layout.map._subplot || !window.Plotly) { return; }
        var map = layout.map._subplot.map;
        var box = fitBounds(gd);
        var key = JSON.stringify(box);
        // Plotly makes a new MapLibre map when it redraws from scratch: fit that one too.
        if (!map || (gd.__londonMap === map && gd.__londonBox === key)) { return; }
        if (!box) {
            gd.__londonMap = map;
            gd.__londonBox = key;
            gd.__londonView = null;
            return;
        }
        // No camera while the map has no size yet (drawn before its container was laid out, as on a
        // busy machine): nothing is recorded, so the next redraw, resize or page change fits it.
        var camera = map.cameraForBounds(box, {padding: 12});
        if (!camera) { return; }
        gd.__londonMap = map;
        gd.__londonBox = key;
        var view = {center: camera.center, zoom: Math.min(camera.zoom, layout.map.zoom + 0.5)};
        gd.__londonView = view;
        map.jumpTo(view);
        watch(gd, map);
    }

    // Move MapLibre's camera directly (a Plotly.relayout needs Plotly's layers, which may not exist
    // yet), and again after each Plotly redraw, which restores the server's view, until the user
    // pans or zooms the map themselves. New bounds from the server (a recolour that moves the map)
    // are fitted afresh.
    function watch(gd, map) {
        if (gd.__londonWatched === map) { return; }
        gd.__londonWatched = map;
        gd.on("plotly_afterplot", function () {
            var current = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
            if (!current || !current.map) { return; }
            if (JSON.stringify(fitBounds(gd)) !== gd.__londonBox) { fit(gd); return; }
            if (gd.__londonView) { current.map.jumpTo(gd.__londonView); }
        });
        gd.on("plotly_relayout", function (change) {
            if (change && (change["map.zoom"] !== undefined || change["map.center"] !== undefined)) {
                gd.__londonView = null;
            }
        });
        map.on("idle", function () {
            var v = gd.__londonView;
            if (v && Math.abs(map.getZoom() - v.zoom) > 0.01) { map.jumpTo(v); }
        });
        // A fit is for the size the map had: when the map's box changes (layout settling, rotation),
        // fit again, unless the user has moved the map.
        map.on("resize", function () {
            if (gd.__londonView) {
                gd.__londonBox = null;
                fit(gd);
            }
        });
    }

    function scan() {
        document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
            if (!gd._fullLayout || !gd._fullLayout.map) { return; }
            // Until a fit succeeds, every redraw tries again (the map may not exist or have a size yet).
            if (!gd.__londonHooked && gd.on) {
                gd.__londonHooked = true;
                gd.on("plotly_afterplot", function () { fit(gd); });
            }
            fit(gd);
        });
    }

    new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
})();
