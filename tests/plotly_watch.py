"""What plotly has drawn in a page: for the browser tests and benches of the Map page's scatter (SVG or WebGL).

`AFTERPLOT_HOOK`, added to a browser context before its pages load (`context.add_init_script`), records on
every plotly chart what it held each time plotly finished drawing it (its `plotly_afterplot` event: every
trace drawn, as SVG points or on the WebGL canvas). A scatter drawn with WebGL puts no point in the DOM, so
this is how a page is checked for having drawn the map's points.
"""

# Plotly's `Events.init` assigns `gd.emit` on each chart's div; this setter wraps it as it is assigned.
AFTERPLOT_HOOK = """
Object.defineProperty(HTMLDivElement.prototype, 'emit', {
    configurable: true,
    get() { return undefined; },
    set(emit) {
        const plot = this;
        Object.defineProperty(plot, 'emit', {configurable: true, writable: true, value: function (event, data) {
            if (event === 'plotly_afterplot') {
                plot.__drawn = (plot._fullData || []).map(trace => ({
                    name: String(trace.name), type: trace.type,
                    x: Array.from(trace.x || []), y: Array.from(trace.y || [])}));
                plot.__drawnAt = performance.now();
            }
            return emit.call(this, event, data);
        }});
    },
});
"""
# `[{name, type, x, y}]`, the traces of the chart holding a trace named like `pattern`, as plotly drew it after
# `since` (the page's `performance.now()`); null while there is none.
DRAWN_SINCE = """([pattern, since]) => {
    const matches = new RegExp(pattern);
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        if (plot.__drawn && plot.__drawnAt > since && plot.__drawn.some(trace => matches.test(trace.name))) {
            return plot.__drawn;
        }
    }
    return null;
}"""
