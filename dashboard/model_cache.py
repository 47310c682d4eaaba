"""Streamlit caches shared by the Inspect, Errors and Draw pages: loaded models and test predictions.

Keyed by the model file's path and modification time, so a model is loaded once for all
sessions and reloaded only when its file changes. Cached models are shared and read-only:
never train, compile or otherwise change them.
"""

from __future__ import annotations

import streamlit as st

from core.data.mnist import load_mnist
from core.drawing.live_prediction import DigitPredictor
from core.runs.model_sources import ModelSource, predictions_on_test_set
from core.runs.store import load_model_file

MAX_CACHED_MODELS = 16


@st.cache_resource(max_entries=MAX_CACHED_MODELS, show_spinner="Loading the model…")
def load_predictor(path: str, mtime: float, label: str) -> DigitPredictor:
    """The model in `path` (modified at `mtime`), loaded in safe mode and ready to predict.

    Raises:
        RunError: if the file is missing or cannot be loaded.
    """
    del mtime  # only part of the cache key
    return DigitPredictor(load_model_file(path, label))


def predictor_for(source: ModelSource) -> DigitPredictor:
    return load_predictor(source.path, source.mtime, source.label)


@st.cache_data(max_entries=8, show_spinner="Reading the test-set predictions…")
def load_test_predictions(source: ModelSource):
    """`(y_true, probabilities)` of `source` on the 10,000 test images (see `core.runs.model_sources`)."""
    return predictions_on_test_set(source, load_mnist())
