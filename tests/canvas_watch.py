"""Where Draw's canvas stands in a page: for the browser tests and benches that draw on it with the mouse.

A newly mounted canvas (a page load, a return from another page) lies ~290 px lower, below its own background
canvas, until its stylesheet (a `<link>` in the component's shadow root, fetched from the server) has loaded,
then jumps into place: a stroke aimed at it before that misses it. `CANVAS_IN_PLACE` is true once the canvas is
where it stays. `CANVAS_EMPTY` is true while its drawing layer holds no ink (white ink on black): after Clear, once
the canvas has emptied itself (`dashboard/draw_canvas.py`). `CANVAS_TOOLBAR_SHOWN` is true once the canvas's
toolbar, shown on hover, has faded in and moved to its place. All are functions for `page.wait_for_function`.
"""

CANVAS_HOST = "div[data-testid='stBidiComponentIsolated']"  # the element holding its shadow root (Draw's only component)
CANVAS_IN_PLACE = """() => {
    const root = document.querySelector("%s")?.shadowRoot;
    const links = root ? [...root.querySelectorAll("link[rel=stylesheet]")] : [];
    return links.length > 0 && links.every(link => link.sheet !== null) && !!root.querySelector("canvas.upper-canvas");
}""" % CANVAS_HOST
CANVAS_EMPTY = """() => {
    const layer = document.querySelector("%s")?.shadowRoot?.querySelector("canvas.lower-canvas");
    if (!layer) return false;
    const pixels = layer.getContext("2d").getImageData(0, 0, layer.width, layer.height).data;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i] > 128) return false;
    return true;
}""" % CANVAS_HOST
CANVAS_TOOLBAR_SHOWN = """() => {
    const bar = document.querySelector("%s")?.shadowRoot?.querySelector(".dc-toolbar");
    return !!bar && getComputedStyle(bar).opacity === "1";  // its opacity and its top animate in together
}""" % CANVAS_HOST
