"""What Draw and Map show of a model's feature space: "not a digit", and a drawing placed on the embedding map.

The map and the digit statistics are read from their files (cached per file and modification time,
shared by all sessions, read-only); a drawing's features come from the model's NumPy file, so the
web server imports neither TensorFlow nor openTSNE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.config.shown_text import markdown_text
from core.data.mnist import DatasetError, load_mnist
from core.embedding.embedding_map import EMBEDDING_FILE, EmbeddingMap, Placement
from core.embedding.epoch_maps import EPOCH_MAPS_FILE, EpochMaps
from core.figures.embedding_figure import VIEW_TITLES
from core.figures.embedding_picture import MapPicture
from core.figures.image_grid import tile
from core.models.numpy_model_layers import UnsupportedModel
from core.models.penultimate import FeaturesAndLogits, numpy_features_and_logits
from core.novelty.digit_statistics import NOVELTY_FILE, SIGNAL_WORDS, DigitStatistics, Verdict
from core.runs.epoch_map_files import read_epoch_maps
from core.runs.feature_files import compute_command, feature_file, read_digit_statistics, read_embedding_map
from core.runs.model_sources import ModelSource
from core.runs.store import RunError
from dashboard.model_cache import predictor_for

NEIGHBOURS_SHOWN = 8
NEIGHBOUR_ZOOM = 2  # 28x28 digits at 56x56
DRAW_MAP_SIZE = 380  # pixels a side on screen (the picture has twice as many, for sharpness)


def file_stamp(path: Path) -> float:
    """The file's modification time, 0.0 when it is missing: keys the caches below, so a new file is read again."""
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(max_entries=16, show_spinner="Reading the embedding map…")
def _embedding_map(source: ModelSource, stamp: float) -> EmbeddingMap:
    return read_embedding_map(source)


def embedding_map_for(source: ModelSource) -> EmbeddingMap:
    """The source's embedding map, shared and read-only.

    Raises:
        RunError: if it has none or it cannot be read (the message names the command that computes it).
    """
    return _embedding_map(source, file_stamp(feature_file(source, EMBEDDING_FILE)))


@st.cache_resource(max_entries=16, show_spinner=False)
def _map_picture(source: ModelSource, stamp: float) -> MapPicture:
    embedding = _embedding_map(source, stamp)
    return MapPicture(embedding.views[embedding.method], embedding.y_true, embedding.y_pred)


def map_picture_for(source: ModelSource) -> MapPicture:
    """Draw's still picture of the source's map (its nonlinear view), drawn once for all sessions: a star goes on a copy.

    Raises:
        RunError: as `embedding_map_for`.
    """
    return _map_picture(source, file_stamp(feature_file(source, EMBEDDING_FILE)))


@st.cache_resource(max_entries=16, show_spinner=False)
def _epoch_maps(source: ModelSource, stamp: float) -> EpochMaps | None:
    return read_epoch_maps(source)


def epoch_maps_for(source: ModelSource) -> EpochMaps | None:
    """The source's map through its kept epochs, shared and read-only; None when it has none.

    Raises:
        RunError: if its file cannot be read (the message names the command that computes it again).
    """
    if source.is_pretrained:
        return None
    return _epoch_maps(source, file_stamp(feature_file(source, EPOCH_MAPS_FILE)))


@st.cache_resource(max_entries=16, show_spinner=False)
def _digit_statistics(source: ModelSource, stamp: float) -> DigitStatistics:
    return read_digit_statistics(source)


def digit_statistics_for(source: ModelSource) -> DigitStatistics:
    """The source's digit statistics, shared and read-only.

    Raises:
        RunError: if it has none or they cannot be read.
    """
    return _digit_statistics(source, file_stamp(feature_file(source, NOVELTY_FILE)))


@st.cache_resource(max_entries=16, show_spinner=False)
def _features_and_logits(source: ModelSource) -> FeaturesAndLogits | None:
    model = predictor_for(source).numpy_model
    if model is None:
        return None
    try:
        return numpy_features_and_logits(model, pooled=True)
    except UnsupportedModel:
        return None


def drawing_features(source: ModelSource, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """`(features, logits, pooled features or None)` of one 28x28 image under the source's NumPy model; None for a
    model run with TensorFlow.

    Raises:
        RunError: if the model cannot be loaded.
    """
    function = _features_and_logits(source)
    if function is None:
        return None
    features, logits, pooled = function(np.asarray(image, np.float32).reshape(1, 28, 28, 1))
    return features[0], logits[0], None if pooled is None else pooled[0]


def digit_verdict(source: ModelSource, image: np.ndarray) -> tuple[Verdict | None, str | None]:
    """The "not a digit" verdict on a drawing and a note on it (statistics from before the combined score), or
    `(None, why there is none)`."""
    try:
        statistics = digit_statistics_for(source)
        computed = drawing_features(source, image)
    except RunError as error:
        return None, str(error)
    if computed is None:
        return None, "This model runs with TensorFlow here, so its drawing's features are not computed: no digit check."
    features, logits, pooled = computed
    try:
        verdict = statistics.judge(features, logits, image=image, pooled=pooled)
    except ValueError as error:  # statistics of another model than the one saved now
        return None, f"Its digit statistics do not fit its model ({error}). Compute them again."
    if verdict.older_statistics:
        return verdict, (f"These digit statistics predate the check that adds pixels, pooled features and energy to "
                         f"the {SIGNAL_WORDS[verdict.signal]}; `{compute_command(source)} --statistics-only` updates them.")
    return verdict, None


def show_verdict(verdict: Verdict | None, note: str | None) -> None:
    """Under the answer: the check's sentence (a warning when it is not a digit) and its note, or why there is no check."""
    if verdict is None:
        if note:
            st.caption(f"No digit check: {markdown_text(note, 400)}")
        return
    if verdict.is_digit:
        st.caption(verdict.words)
    else:
        st.warning(verdict.words, icon=":material/block:")
    if note:
        st.caption(markdown_text(note, 400))


def place_drawing(source: ModelSource, image: np.ndarray) -> tuple[EmbeddingMap, Placement] | None:
    """The source's map and where the drawing lands on it; None (and a caption saying why) when it cannot be placed."""
    try:
        embedding = embedding_map_for(source)
        computed = drawing_features(source, image)
    except RunError as error:
        st.caption(f"No map: {markdown_text(error, 400)}")
        return None
    if computed is None:
        st.caption("No map placement: this model runs with TensorFlow here.")
        return None
    try:
        return embedding, embedding.place(computed[0], NEIGHBOURS_SHOWN)
    except ValueError as error:
        st.caption(f"No map placement: its map does not fit its model ({markdown_text(error, 300)}). Compute it again.")
        return None


def show_neighbours(embedding: EmbeddingMap, placement: Placement) -> None:
    """The drawing's nearest training and test digits, as two rows of small images."""
    try:
        mnist = load_mnist(download=False)
    except DatasetError as error:  # Draw works without MNIST (the shipped model); only the neighbours need it
        st.caption(f"No nearest digits: MNIST could not be loaded ({markdown_text(error, 300)}).")
        return
    train = embedding.train_indices[placement.nearest_train]
    test = embedding.indices[placement.nearest_test]
    st.caption("Nearest training digits (by the model's features): "
               + ", ".join(str(int(label)) for label in embedding.train_labels[placement.nearest_train]))
    st.image(tile(mnist.x_train[train] / 255.0, zoom=NEIGHBOUR_ZOOM, columns=len(train)))
    st.caption("Nearest test digits on the map: " + ", ".join(
        f"#{int(index)} ({int(label)})" for index, label in zip(test, embedding.y_true[placement.nearest_test])))
    st.image(tile(mnist.x_test[test] / 255.0, zoom=NEIGHBOUR_ZOOM, columns=len(test)))


def show_drawing_on_map(source: ModelSource, image: np.ndarray, prediction: int, key: str) -> None:
    """Draw's section: the map with the drawing as a star where its features land, and its nearest digits."""
    placed = place_drawing(source, image)
    if placed is None:
        return
    embedding, placement = placed
    view = embedding.method
    # A picture, not the Map page's plotly scatter: redrawing 5,000 points in the browser at every stroke held the
    # answer back by ~0.5-0.7 s (core/figures/embedding_picture.py).
    with st.container(key=key, width=DRAW_MAP_SIZE):  # "stretch" in it: an int width would make Streamlit shrink the picture
        st.image(map_picture_for(source).png_with_star(placement.coordinates[view]), width="stretch")
        st.caption(f"{VIEW_TITLES.get(view, view)}: each dot a test digit in its digit's colour, ✕ a mistake, ★ your "
                   f"drawing (predicted {prediction}). The Map page has the same map, with hover and zoom.")
    show_neighbours(embedding, placement)


MAP_CLICK_KEY = "map_open_in_errors"  # session state: (model label, true digit, predicted digit) a Map click asked for


def ask_errors_to_open(label: str, true_digit: int, predicted: int) -> None:
    """From Map: have the Errors page open on `label`'s cell (true, predicted) at its next run."""
    st.session_state[MAP_CLICK_KEY] = (label, int(true_digit), int(predicted))


def apply_map_click() -> None:
    """On Errors, before its widgets: select the model and cell a click on Map asked for (once)."""
    asked = st.session_state.pop(MAP_CLICK_KEY, None)
    if asked is None:
        return
    st.session_state["errors_model"], st.session_state["errors_true"], st.session_state["errors_predicted"] = asked
    st.session_state["errors_chart_version"] = st.session_state.get("errors_chart_version", 0) + 1  # drop an old chart click
