"""Streamlit caches shared by the Inspect, Errors and Draw pages: loaded models and test predictions.

Keyed by the model source (its files' paths and the model file's modification time), so a model
is loaded once for all sessions and reloaded only when its file changes. A model is read from its
NumPy file when it has one, so the server imports no TensorFlow for it; only a source without one
(`ModelSource.tensorflow_note`) is loaded with Keras. Cached models are shared and read-only:
never train, compile or otherwise change them.
"""

from __future__ import annotations

import streamlit as st

from core.data.mnist import load_mnist
from core.drawing.live_prediction import DigitPredictor
from core.runs.model_sources import ModelSource, open_source_model, predictions_on_test_set

MAX_CACHED_MODELS = 16


@st.cache_resource(max_entries=MAX_CACHED_MODELS, show_spinner="Loading the model…")
def load_predictor(source: ModelSource) -> DigitPredictor:
    """The source's model, from its NumPy file (or, without one, its `.keras` file in safe mode), ready to predict.

    Raises:
        RunError: if the file is missing or cannot be loaded.
    """
    return DigitPredictor(open_source_model(source))


def predictor_for(source: ModelSource) -> DigitPredictor:
    return load_predictor(source)


@st.cache_data(max_entries=8, show_spinner="Reading the test-set predictions…")
def load_test_predictions(source: ModelSource):
    """`(y_true, probabilities)` of `source` on the 10,000 test images (see `core.runs.model_sources`)."""
    return predictions_on_test_set(source, load_mnist())
