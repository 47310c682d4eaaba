"""Draw's canvas sends a stroke the moment the mouse is released, not 200 ms later.

streamlit-drawable-canvas 0.13 posts the drawing through a 200-ms trailing debounce after each
mouse-up (`Bc = 200` in its bundle, no parameter for it): a fifth of a second of every stroke's trip
to its answer was spent waiting (`bench/stroke_trace.py`: the rerun request left 204-216 ms after the
release, whatever the load). Its toolbar's own "Update the app with this drawing" button sends at
once and cancels that wait. The script here presses that button when a stroke ends on the canvas,
after the canvas has recorded the stroke, so the drawing is sent once, at once: the press replaces
the debounced send rather than adding one.
"""

from __future__ import annotations

import json

from dashboard.page_scripts import run_script

SEND_BUTTON_LABEL = "Update the app with this drawing"  # the canvas toolbar's send button (its aria-label)
SEND_ON_RELEASE = """<script>
(() => {
    const key = %s;  // the canvas's Streamlit key: Streamlit gives its element the class "st-key-" + key
    window.mnistLabStrokeSenders = window.mnistLabStrokeSenders || new Set();
    if (window.mnistLabStrokeSenders.has(key)) return;
    window.mnistLabStrokeSenders.add(key);
    document.addEventListener("pointerup", (event) => {
        const canvas = event.composedPath().find(
            (node) => node instanceof HTMLCanvasElement && node.classList.contains("upper-canvas"));
        const root = canvas && canvas.getRootNode();  // the component's shadow root
        if (!root || !root.host || !root.host.closest(".st-key-" + key)) return;
        setTimeout(() => {  // after the canvas's own mouse-up handling and its microtask, which record the stroke
            const send = root.querySelector("button[aria-label='%s']");
            if (send && !send.disabled) send.click();
        }, 0);
    }, true);
})();
</script>"""


def send_strokes_on_release(canvas_key: str) -> None:
    """Have the canvas keyed `canvas_key` send each stroke as soon as the mouse is released; call it on every run
    that shows the canvas (the same script at the same place: the browser runs it once per page load).

    Args:
        canvas_key: the `key` the canvas was given (letters, digits, `_` and `-`: it is part of a CSS class).

    Raises:
        ValueError: if `canvas_key` holds another character.
    """
    if not canvas_key or not all(character.isalnum() or character in "_-" for character in canvas_key):
        raise ValueError(f"`canvas_key` must be letters, digits, '_' or '-' (it names a CSS class). "
                         f"Received: canvas_key={canvas_key!r}; pass the key given to st_canvas.")
    run_script(SEND_ON_RELEASE % (json.dumps(canvas_key), SEND_BUTTON_LABEL))
