"""Streamlit caches shared by the Inspect, Errors and Draw pages: loaded models and test predictions,
and a run's checkpoints (a NumPy model and test predictions per kept epoch) for the epoch scrubber.

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
from core.figures.distributions import activation_distributions, distribution_figure, sample_batch, weight_distributions
from core.runs.checkpoints import checkpoint_path, load_checkpoint_numpy_model, load_checkpoint_predictions
from core.runs.model_sources import ModelSource, open_source_model, predictions_on_test_set

MAX_CACHED_MODELS = 16
MAX_CACHED_CHECKPOINTS = 64  # a 30-epoch run's kept epochs, twice over; a LeNet-5 checkpoint is ~0.3 MB in memory
DISTRIBUTION_BATCH = 64  # the fixed test digits whose activations the distributions show


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


def checkpoint_stamp(source: ModelSource, epoch: int) -> float:
    """The modification time of the source's checkpoint at `epoch` (0.0 if it is gone): keys the caches
    below, so an epoch written again (a resumed run) is read again.

    Raises:
        RunError: if the run's name is invalid or the run is gone.
    """
    try:
        return checkpoint_path(source.runs_dir, source.run_name, epoch).stat().st_mtime
    except FileNotFoundError:
        return 0.0


@st.cache_resource(max_entries=MAX_CACHED_CHECKPOINTS, show_spinner=False)
def _checkpoint_predictor(runs_dir: str | None, name: str, epoch: int, stamp: float) -> DigitPredictor:
    return DigitPredictor(load_checkpoint_numpy_model(runs_dir, name, epoch))


def checkpoint_predictor(source: ModelSource, epoch: int) -> DigitPredictor:
    """The run's model after `epoch`, from its checkpoint's NumPy file (no TensorFlow), shared and read-only.

    Raises:
        RunError: if there is no such checkpoint or it holds no NumPy model.
    """
    return _checkpoint_predictor(source.runs_dir, source.run_name, int(epoch), checkpoint_stamp(source, epoch))


@st.cache_data(max_entries=MAX_CACHED_CHECKPOINTS, show_spinner=False)
def _checkpoint_predictions(runs_dir: str | None, name: str, epoch: int, stamp: float):
    return load_checkpoint_predictions(runs_dir, name, epoch)


def checkpoint_test_predictions(source: ModelSource, epoch: int):
    """`(y_true, probabilities)` on the test set after `epoch`, from the run's checkpoint.

    Raises:
        RunError: if there is no such checkpoint or its predictions are unreadable.
    """
    return _checkpoint_predictions(source.runs_dir, source.run_name, int(epoch), checkpoint_stamp(source, epoch))


@st.cache_data(max_entries=8, show_spinner="Reading every checkpoint's weights and activations…")
def _distributions(runs_dir: str | None, name: str, stamps: tuple[tuple[int, float], ...]):
    source_models = {epoch: _checkpoint_predictor(runs_dir, name, epoch, stamp).numpy_model for epoch, stamp in stamps}
    batch = sample_batch(load_mnist().x_test, DISTRIBUTION_BATCH)
    return weight_distributions(source_models), activation_distributions(source_models, batch)


def checkpoint_distributions(source: ModelSource, epochs: list[int]):
    """`(weights, activations)`: two lists of `core.figures.distributions.Distribution`, per layer, over `epochs`.

    Raises:
        RunError: if a checkpoint is gone or holds no NumPy model.
    """
    stamps = tuple((int(epoch), checkpoint_stamp(source, epoch)) for epoch in epochs)
    return _distributions(source.runs_dir, source.run_name, stamps)


@st.cache_resource(max_entries=MAX_CACHED_CHECKPOINTS, show_spinner=False)
def _distribution_figures(runs_dir: str | None, name: str, stamps: tuple[tuple[int, float], ...], epoch: int):
    weights, activations = _distributions(runs_dir, name, stamps)
    return ([distribution_figure(distribution, epoch) for distribution in weights],
            [distribution_figure(distribution, epoch) for distribution in activations])


def checkpoint_distribution_figures(source: ModelSource, epochs: list[int], epoch: int):
    """`(weights, activations)`: the figures of `checkpoint_distributions`, epoch `epoch`'s row outlined.

    Built once per epoch for all sessions (plotly's figure building is most of a scrub's time); shared:
    show them, never change them.

    Raises:
        RunError: if a checkpoint is gone or holds no NumPy model.
    """
    stamps = tuple((int(kept), checkpoint_stamp(source, kept)) for kept in epochs)
    return _distribution_figures(source.runs_dir, source.run_name, stamps, int(epoch))
