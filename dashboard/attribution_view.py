"""Attribution on Draw and Errors: the method and target pickers, the red-and-blue overlays, and their legend.

The maps are computed on the web server in NumPy (`core.explain`), no TensorFlow: a backward pass
over the model's NumPy file. A model without that file (an old run, loaded with Keras) gets a
caption saying why it has no attribution.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from core.explain.attribution import METHODS, explain, attribute, methods_for
from core.explain.logit_gradients import LogitModel, logit_model
from core.figures.attribution_overlay import attribution_overlay
from core.runs.model_sources import ModelSource
from core.runs.store import RunError
from core.config.shown_text import markdown_text
from dashboard.model_cache import checkpoint_predictor, predictor_for

PREDICTION = "prediction"  # the target picker's first choice: whatever the model predicts
GALLERY_ATTRIBUTED = 32  # gallery images given a map: integrated gradients for 32 digits take ~1 s on two cores
GALLERY_ZOOM = 4  # 112 x 112 pixels, about the plain gallery's 100
NO_GRADIENT = ("No attribution for this model: the web server computes attributions from a model's NumPy file, "
               "and this one has none.")


@st.cache_resource(max_entries=16, show_spinner=False)
def logit_model_of(source: ModelSource, epoch: int | None) -> LogitModel | None:
    """The source's model (after `epoch`, or its saved one when None) run up to its logits; None without a NumPy model.

    Raises:
        RunError: if the model or checkpoint cannot be loaded.
    """
    predictor = predictor_for(source) if epoch is None else checkpoint_predictor(source, epoch)
    return None if predictor.numpy_model is None else logit_model(predictor.numpy_model)


def remembered(widget_key: str, options: list) -> str:
    """`widget_key`, given back the visitor's last choice if the widget was not drawn in between.

    Streamlit forgets a widget's value when a run does not draw it (Draw after Clear, Errors on an
    empty cell); the choice is kept under a key of its own and put back when it is still offered.
    """
    if widget_key in st.session_state and st.session_state[widget_key] not in options:
        del st.session_state[widget_key]  # e.g. Grad-CAM, kept from a conv model, for one without convolutions
    kept = st.session_state.get(f"{widget_key}_kept")
    if widget_key not in st.session_state and kept in options:
        st.session_state[widget_key] = kept
    return widget_key


def keep(widget_key: str, value):
    st.session_state[f"{widget_key}_kept"] = value
    return value


def method_picker(model: LogitModel, key: str) -> str:
    names = methods_for(model)
    return keep(f"{key}_method", st.selectbox(
        "Attribution", names, format_func=lambda name: METHODS[name].title, key=remembered(f"{key}_method", names),
        help="Which pixels pushed the model towards the target digit, by one of three methods."))


def show_drawing_attribution(source: ModelSource, epoch: int | None, image: np.ndarray, key: str = "draw") -> None:
    """The drawing coloured by what pushed the model towards a target digit (the prediction unless another is picked).

    Args:
        source: the model answering.
        epoch: its checkpoint's epoch, or None for its saved model.
        image: the model's input, float32 `(28, 28)` in `[0, 1]`.
        key: prefix of the widgets' keys.
    """
    with st.container(key=f"{key}_attribution"):
        try:
            model = logit_model_of(source, epoch)
        except RunError as error:
            st.caption(f"No attribution: {markdown_text(error, 400)}")
            return
        if model is None:
            st.caption(NO_GRADIENT)
            return
        picture_column, controls_column = st.columns([2, 3], gap="small")
        with controls_column:
            method = method_picker(model, key)
            targets = [PREDICTION, *range(10)]
            target = keep(f"{key}_target", st.selectbox(
                "Explain the score for", targets, key=remembered(f"{key}_target", targets),
                format_func=lambda choice: "the prediction" if choice == PREDICTION else f"{choice} (what would make it a {choice}?)",
            ))
        started = time.perf_counter()
        attribution = explain(model, image, method, None if target == PREDICTION else int(target))
        milliseconds = (time.perf_counter() - started) * 1000
        with picture_column:
            st.image(attribution_overlay(image, attribution.values, contrast=METHODS[method].contrast), caption=f"Why {attribution.target}?", output_format="PNG")
        with controls_column:
            st.caption(f"{attribution.legend} ({milliseconds:.0f} ms)")


@st.cache_data(max_entries=32, show_spinner="Computing the attributions…")
def gallery_maps(source: ModelSource, epoch: int | None, indices: tuple[int, ...], targets: tuple[int, ...],
                 method: str, _images: np.ndarray) -> np.ndarray:
    """Attribution maps of test images `indices` toward `targets` (keyed by indices; `_images` are those images)."""
    return attribute(logit_model_of(source, epoch), _images, method, np.array(targets))


def show_gallery_attribution(source: ModelSource, epoch: int | None, x_test: np.ndarray, indices: list[int],
                             true_label: int, predicted_label: int, captions: list[str], width: int,
                             key: str = "errors") -> bool:
    """The gallery's digits coloured by why the model predicted what it did, when the visitor asks for it.

    Args:
        source, epoch: the model whose mistakes the gallery shows.
        x_test: the test images, uint8 `(10000, 28, 28)`.
        indices: the gallery's test indices, in order.
        true_label, predicted_label: the confusion cell shown.
        captions: one caption per index.
        width: on-screen width of one digit.
        key: prefix of the widgets' keys.

    Returns:
        True if it showed the gallery (with attributions); False if the page should show the plain one.
    """
    with st.container(horizontal=True, vertical_alignment="bottom", key=f"{key}_attribution_controls"):
        shown = keep(f"{key}_attribution", st.toggle("Why? Colour each digit by what pushed the model",
                                                       key=remembered(f"{key}_attribution", [True, False])))
        if not shown:
            return False
        try:
            model = logit_model_of(source, epoch)
        except RunError as error:
            st.caption(f"No attribution: {markdown_text(error, 400)}")
            return False
        if model is None:
            st.caption(NO_GRADIENT)
            return False
        method = method_picker(model, key)
        toward = st.radio("Towards", ["predicted", "true"], horizontal=True, key=remembered(f"{key}_toward", ["predicted", "true"]),
                          format_func=lambda side: f"the prediction, {predicted_label}" if side == "predicted"
                          else f"the true digit, {true_label}")
    keep(f"{key}_toward", toward)
    target = predicted_label if toward == "predicted" else true_label
    chosen = indices[:GALLERY_ATTRIBUTED]
    images = x_test[chosen].astype(np.float32) / 255.0
    maps = gallery_maps(source, epoch, tuple(int(index) for index in chosen), (target,) * len(chosen), method, images)
    st.caption(METHODS[method].legend.format(target=target)
               + ("" if len(indices) <= GALLERY_ATTRIBUTED else f" The first {GALLERY_ATTRIBUTED} images are shown."))
    st.image([attribution_overlay(image, values, zoom=GALLERY_ZOOM, contrast=METHODS[method].contrast) for image, values in zip(images, maps)],
             caption=captions[: len(chosen)], width=width, output_format="PNG")
    return True
