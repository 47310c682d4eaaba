"""Draw's canvas: mounted once per visit to the page, emptied in place by Clear, its drawing kept across pages.

streamlit-drawable-canvas 0.13 redraws a mounted canvas from its `initial_drawing`, dropping every stroke on it,
and sends the result, whenever that differs from the one the run before gave it. Two rules follow:

- Clear gives the canvas a new empty drawing, never a new key. A new key mounts a new component, whose
  stylesheet (a `<link>` in its shadow root, fetched again from the server) applies only once loaded: until then
  the unstyled canvas lay ~290 px lower, below its own background canvas, and jumped up when the sheet arrived.
  A stroke aimed in that window began on the toolbar or beside the canvas: nothing drawn, nothing sent, no
  prediction (3 strokes in 100 drawn right after Clear, at load 2-4; `bench/results/clear_stroke.txt`).
- Every other run passes the same initial drawing again. It used to be the kept strokes on the run that restored
  them (back from another page) and none on the next, so the visitor's first stroke after a return emptied the
  canvas, drawing and stroke alike (5 returns in 5).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.stroke_sender import send_strokes_on_release

CANVAS_KEY = "draw_canvas"
INITIAL_DRAWING_KEY = "draw_initial_drawing"  # what the mounted canvas started from: passed unchanged on every run
CLEARS_KEY = "draw_clears"  # Clear presses, written into each new empty drawing so that it differs from the last
KEPT_DRAWING_KEY = "draw_kept_strokes"  # the canvas's strokes, kept while the visitor is on other pages
KEPT_IMAGE_KEY = "draw_kept_image"  # and the image they made (RGBA), predicted again on the way back
NOT_DRAWN = {"drawing": {"raw": {"objects": []}, "data": None}, "backgroundFit": None}  # a canvas that sent nothing
# The canvas's toolbar shows on hover (and on a phone, after a tap) 2.65 rem above the canvas, where it covered the
# end of the Model box and, on a phone, the brush slider, whose thumb sat under the toolbar's delete button. A spacer
# above the canvas (10 px and the column's 1-rem gap) keeps that room free. A spacer, not a style: `st.html` is drawn
# by a chunk of Streamlit's JavaScript loaded on first use, so a style in it could apply after the canvas was shown
# and move it under a stroke already aimed at it.
TOOLBAR_ROOM_PX = 10


def drawing_canvas(brush: int, size: int) -> np.ndarray | None:
    """Show Draw's canvas (white ink on black) and return the drawing on it.

    Args:
        brush: the stroke width, in canvas pixels.
        size: the canvas's width and height, in pixels.

    Returns:
        uint8 array of shape `(size, size, 4)` (RGBA) as the canvas last sent it, the kept image where a canvas
        restored from the kept strokes has sent nothing yet, or None before the first stroke and after Clear.
    """
    from streamlit_drawable_canvas import st_canvas  # registers its component: only inside a running app

    st.space(TOOLBAR_ROOM_PX)
    send_strokes_on_release(CANVAS_KEY)  # the canvas alone waits 200 ms after each stroke before it sends it
    if CANVAS_KEY not in st.session_state:  # a new canvas: a first visit, or back from another page (state dropped)
        st.session_state[INITIAL_DRAWING_KEY] = st.session_state.get(KEPT_DRAWING_KEY)  # it starts from the strokes kept
    canvas = st_canvas(
        stroke_width=brush, stroke_color="#FFFFFF", background_color="#000000", width=size, height=size,
        drawing_mode="freedraw", update_streamlit=True, return_image_data=True,
        initial_drawing=st.session_state.get(INITIAL_DRAWING_KEY), key=CANVAS_KEY,
    )
    if canvas.json_data and canvas.json_data.get("objects"):
        st.session_state[KEPT_DRAWING_KEY] = canvas.json_data
    rgba = canvas.image_data
    if rgba is None:  # nothing sent since it was mounted: a restored canvas sends its image with its next stroke
        return st.session_state.get(KEPT_IMAGE_KEY)
    st.session_state[KEPT_IMAGE_KEY] = rgba
    return rgba


def clear_drawing() -> None:
    """Empty Draw's canvas and forget the kept drawing; Clear's `on_click`."""
    st.session_state[CLEARS_KEY] = st.session_state.get(CLEARS_KEY, 0) + 1
    st.session_state[INITIAL_DRAWING_KEY] = {"objects": [], "clears": st.session_state[CLEARS_KEY]}
    # This run reads an empty canvas: the browser's value still holds the strokes until the canvas, given its new
    # empty drawing by this run, empties itself and sends that.
    st.session_state[CANVAS_KEY] = NOT_DRAWN
    st.session_state.pop(KEPT_DRAWING_KEY, None)
    st.session_state.pop(KEPT_IMAGE_KEY, None)
