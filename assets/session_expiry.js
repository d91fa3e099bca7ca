// When the session ends while a page is open (the 8-hour lifetime, or a sign-out in another tab), the
// server answers Dash's requests with 401. Dash only logs that in the console: the page kept its old
// figures under the new choices (an ICB picked, London still shown) and a navigation link changed the
// address but not the page. On the first 401 from one of Dash's endpoints the browser goes to the
// sign-in page, which says the session ended and comes back here afterwards.
// Loaded from the app's own origin (no inline script: the CSP forbids it).
(function () {
    var originalFetch = window.fetch;
    var leaving = false;

    function fromDash(input) {
        var url = typeof input === "string" ? input : (input && input.url) || "";
        return new URL(url, window.location.href).pathname.indexOf("/_dash-") === 0;
    }

    window.fetch = function (input, init) {
        return originalFetch.apply(this, arguments).then(function (response) {
            if (response.status === 401 && !leaving && fromDash(input)) {
                leaving = true;
                var here = window.location.pathname + window.location.search;
                window.location.assign("/login?expired=1&next=" + encodeURIComponent(here));
            }
            return response;
        });
    };
})();
