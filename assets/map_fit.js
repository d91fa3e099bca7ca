// Fit London's maps to the screen they are drawn on. The server picks each map's centre and
// zoom for a desktop-width map and cannot know the browser's width, so it also names what must
// stay in sight (layout.meta.fit_bounds: all London, or the boroughs it zoomed to). On first
// draw, and whenever the server moves the map to new bounds, the map is re-centred and zoomed to
// show those bounds on this screen (out on a phone, in by at most half a step on a wide screen).
// A map without fit_bounds keeps the server's view. Works the same whether the boundaries are
// inline or fetched by URL: the bounds come from the layout, not from the geometry.
// The server's height is for a desktop, where the bounds fill the map's height. On a narrow screen
// they fill its width instead and leave a white band above and below (London, wider than tall,
// took ~240 of a phone map's 470 px), so there the figure is made only as tall as the bounds need
// at that width; it is never made taller than the server made it.
// The legend (suppressed areas, trust points) sits over the map's bottom-left corner. Where London
// would reach under it (a phone, where London fills the width) the bounds are fitted above the
// legend and the figure is that much taller, so it never covers the outer boroughs.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    function fitBounds(gd) {
        var meta = gd.layout && gd.layout.meta;
        return (meta && meta.fit_bounds) || null;
    }

    var PADDING = 12;  // px kept clear round the bounds, as in the fit

    // The map's drawn size in px, from Plotly's layout (its element's size can lag a redraw).
    function mapSize(layout) {
        var domain = layout.map.domain;
        return {
            width: layout._size.w * (domain.x[1] - domain.x[0]),
            height: layout._size.h * (domain.y[1] - domain.y[0])
        };
    }

    // The bounds' height over their width on screen, whatever the zoom (Web Mercator stretches
    // north-south); NaN while the map cannot project them yet.
    function tallness(map, box) {
        var southWest = map.project(box[0]);
        var northEast = map.project(box[1]);
        var width = northEast.x - southWest.x;
        return width > 0 ? (southWest.y - northEast.y) / width : NaN;
    }

    // The px to keep clear under the bounds for the legend: its height when London, as wide as this map
    // can draw it, would reach under the legend; else 0 (a desktop map leaves the corner empty).
    function legendReserve(gd, map, box) {
        var layout = gd._fullLayout;
        var legend = layout.showlegend && gd.querySelector(".legend");
        if (!legend) { return 0; }
        var legendBox = legend.getBoundingClientRect();
        if (!(legendBox.height > 0)) { return 0; }
        var size = mapSize(layout);
        var shape = tallness(map, box);
        if (!(shape > 0)) { return 0; }
        var londonWidth = Math.min(size.width - 2 * PADDING, (size.height - 2 * PADDING) / shape);
        var beside = (size.width - londonWidth) / 2;
        return legendBox.width > beside ? Math.ceil(legendBox.height) : 0;
    }

    // The figure height at which the bounds, fitted to the map's width, fill the map's height:
    // the server's height, or less where the bounds fill the map's width before its height.
    function fitHeight(gd) {
        var layout = gd._fullLayout;
        var box = fitBounds(gd);
        if (!box || !layout || !layout.map || !layout.map._subplot || !window.Plotly) { return; }
        var map = layout.map._subplot.map;
        if (!map) { return; }
        // Plotly's own size for the map, not its element's: that can lag a redraw, and the two
        // must agree with layout.height for the sum below.
        var size = mapSize(layout);
        var width = size.width;
        var height = size.height;
        if (width < 2 * PADDING + 10 || height < 2 * PADDING + 10) { return; }  // hidden or not laid out
        // Any height this script did not set is the server's (a new figure, or a first draw).
        if (layout.height !== gd.__londonHeight) { gd.__londonServerHeight = layout.height; }
        var shape = tallness(map, box);
        if (!(shape > 0)) { return; }
        var mapHeight = Math.ceil((width - 2 * PADDING) * shape) + 2 * PADDING + 2 + (gd.__londonReserve || 0);
        var wanted = Math.min(gd.__londonServerHeight, Math.round(layout.height - height + mapHeight));
        if (!(wanted > 2 * mapHeight / 3)) { return; }  // sizes not settled: the next redraw tries again
        // A few pixels either way are the colour bar's margin settling: leave them, or this never ends.
        if (Math.abs(wanted - layout.height) < 4) { return; }
        // A few tries per figure, width and bounds (a resize can undo a height): a redraw that
        // settles elsewhere is not chased for ever. A new figure from the server is a new layout.
        var key = [gd.__londonServerHeight, width, JSON.stringify(box)].join();
        if (gd.__londonHeightFor !== key || gd.__londonHeightLayout !== gd.layout) {
            gd.__londonHeightFor = key;
            gd.__londonHeightLayout = gd.layout;
            gd.__londonHeightTries = 0;
        }
        if (gd.__londonHeightTries >= 3) { return; }
        // Plotly's relayout reads MapLibre's style, which a map still loading has not got yet.
        if (!map.isStyleLoaded()) {
            map.once("idle", function () { fitHeight(gd); });
            return;
        }
        gd.__londonHeightTries += 1;
        gd.__londonHeight = wanted;
        window.Plotly.relayout(gd, {height: wanted});
    }

    function fit(gd) {
        var layout = gd._fullLayout;
        if (!layout || !layout.map || !layout.map._subplot || !window.Plotly) { return; }
        var map = layout.map._subplot.map;
        var box = fitBounds(gd);
        var key = JSON.stringify(box);
        var reserve = map && box ? legendReserve(gd, map, box) : 0;
        // Plotly makes a new MapLibre map when it redraws from scratch: fit that one too, and fit
        // again when the legend comes, goes or changes height (a recolour that suppresses an area).
        if (!map || (gd.__londonMap === map && gd.__londonBox === key && gd.__londonReserve === reserve)) { return; }
        if (!box) {
            gd.__londonMap = map;
            gd.__londonBox = key;
            gd.__londonReserve = reserve;
            gd.__londonView = null;
            return;
        }
        // No camera while the map has no size yet (drawn before its container was laid out, as on a
        // busy machine): nothing is recorded, so the next redraw, resize or page change fits it.
        var camera = map.cameraForBounds(box, {
            padding: {top: PADDING, right: PADDING, bottom: PADDING + reserve, left: PADDING}
        });
        if (!camera) { return; }
        gd.__londonMap = map;
        gd.__londonBox = key;
        gd.__londonReserve = reserve;
        var view = {center: camera.center, zoom: Math.min(camera.zoom, layout.map.zoom + 0.5)};
        gd.__londonView = view;
        map.jumpTo(view);
        watch(gd, map);
        fitHeight(gd);
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
            fitHeight(gd);
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
            fitHeight(gd);
        });
    }

    window.plotlyHooks.register({
        applies: function (gd) { return Boolean(gd._fullLayout && gd._fullLayout.map); },
        // Until a fit succeeds, every redraw and every change to the page tries again (the map may not
        // exist or have a size yet); once it has, fit returns at once.
        afterDraw: fit,
        onEveryChange: true
    });
})();
