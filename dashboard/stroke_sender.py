"""Draw's canvas sends a stroke the moment the mouse is released, not 200 ms later.

streamlit-drawable-canvas 0.13 posts the drawing through a 200-ms trailing debounce after each
mouse-up (`Bc = 200` in its bundle, no parameter for it): a fifth of a second of every stroke's trip
to its answer was spent waiting (`bench/stroke_trace.py`: the rerun request left 204-216 ms after the
release, whatever the load). Its toolbar's own "Update the app with this drawing" button sends at
once and cancels that wait. The script here presses that button when a stroke ends on Draw's canvas,
after the canvas has recorded the stroke, so the drawing is sent once, at once: the press replaces
the debounced send rather than adding one.
"""

from __future__ import annotations

from dashboard.page_scripts import run_script

CANVAS_KEY_PREFIX = "draw_canvas_"  # Draw's canvas keys (`draw_canvas_<version>`, a new one after Clear)
SEND_BUTTON_LABEL = "Update the app with this drawing"  # the canvas toolbar's send button (its aria-label)
SEND_ON_RELEASE = f"""<script>
if (!window.mnistLabSendsStrokesOnRelease) {{
    window.mnistLabSendsStrokesOnRelease = true;
    document.addEventListener("pointerup", (event) => {{
        const canvas = event.composedPath().find(
            (node) => node instanceof HTMLCanvasElement && node.classList.contains("upper-canvas"));
        const root = canvas && canvas.getRootNode();  // the component's shadow root
        if (!root || !root.host || !root.host.closest("[class*='st-key-{CANVAS_KEY_PREFIX}']")) return;
        setTimeout(() => {{  // after the canvas's own mouse-up handling and its microtask, which record the stroke
            const send = root.querySelector("button[aria-label='{SEND_BUTTON_LABEL}']");
            if (send && !send.disabled) send.click();
        }}, 0);
    }}, true);
}}
</script>"""


def send_strokes_on_release() -> None:
    """Have Draw's canvas send each stroke as soon as the mouse is released; call it on every Draw run."""
    run_script(SEND_ON_RELEASE)
