"""Every trained model a view can pick: the shipped pretrained one and each saved run's.

A model is opened from its NumPy file (`model.numpy.npz`, or `mnist_fast.numpy.npz` for the
shipped one) when it has one: no TensorFlow in the web server. Only a model without that file
(a run saved before such files existed, or one whose layers have no NumPy translation) is
loaded with Keras, and its `ModelSource.tensorflow_note` says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.input_pipeline import prediction_batches
from core.data.mnist import Mnist
from core.data.splits import to_model_input
from core.models.numpy_model import NumpyModel
from core.runs.pretrained import (
    PRETRAINED_LABEL, PRETRAINED_MODEL_PATH, load_pretrained_model, load_pretrained_numpy_model, numpy_model_path,
    pretrained_info,
)
from core.runs.store import (
    MODEL_FILE, NO_NUMPY_MODEL_FILE, NUMPY_MODEL_FILE, RunError, list_runs, load_model, load_numpy_model,
    load_predictions, run_file,
)

OLD_RUN_REASON = "it was saved before runs kept a NumPy copy of their model"
MAX_REASON_CHARACTERS = 500


@dataclass(frozen=True)
class ModelSource:
    """One saved model file and what the pickers show about it.

    `mtime` is the model file's modification time: with `path` and `numpy_path` it keys caches,
    so a run retrained under the same name is reloaded.
    """

    label: str
    path: str
    mtime: float
    model: str  # the zoo model name
    run_name: str | None = None  # None for the shipped pretrained model
    test_accuracy: float | None = None
    has_predictions: bool = False  # a saved `predictions.npz` on the test set
    initializer: str = "preset"  # the run's `TrainConfig.initializer`
    runs_dir: str | None = None  # the runs directory the run lies in
    numpy_path: str | None = None  # the model's NumPy file, when it has one
    numpy_missing_reason: str | None = None  # why it has none, when it has none

    @property
    def is_pretrained(self) -> bool:
        return self.run_name is None

    @property
    def tensorflow_note(self) -> str | None:
        """A sentence for the pages when this model is loaded with TensorFlow; None when it is not."""
        if self.numpy_path is not None:
            return None
        return f"This model is loaded with TensorFlow (slower first load): {self.numpy_missing_reason or OLD_RUN_REASON}."


def describe(name: str, model: str, test_accuracy: float | None) -> str:
    accuracy = "" if test_accuracy is None else f", {test_accuracy:.2%} test"
    return f"{name} ({model}{accuracy})"


def numpy_missing_reason(runs_dir: str | os.PathLike | None, name: str) -> str:
    """Why run `name` has no NumPy model file, in words (from `no_numpy_model.txt` when it wrote one)."""
    try:
        path = run_file(runs_dir, name, NO_NUMPY_MODEL_FILE)
        with open(path, encoding="utf-8", errors="replace") as file:
            recorded = file.read(MAX_REASON_CHARACTERS).strip()
    except FileNotFoundError:
        return OLD_RUN_REASON
    except (OSError, RunError):
        return f"its {NO_NUMPY_MODEL_FILE} could not be read"
    return f"its layers could not be run in NumPy ({recorded.rstrip('.')})"


def model_sources(runs_dir: str | os.PathLike | None = None, pretrained_path: str | os.PathLike | None = None) -> list[ModelSource]:
    """The shipped model (when its file exists), then every saved run with a model, newest first.

    Args:
        runs_dir: the runs directory; None = `$MNIST_LAB_RUNS_DIR` or `runs/`.
        pretrained_path: the shipped `.keras` file; None = `pretrained/mnist_fast.keras`. Its
            NumPy file is the same name ending `.numpy.npz`.

    Returns:
        A list of `ModelSource`; empty when there is neither a shipped model nor a saved one.
    """
    sources = []
    pretrained = Path(pretrained_path) if pretrained_path is not None else PRETRAINED_MODEL_PATH
    if pretrained.is_file():
        info = pretrained_info(pretrained)
        numpy_file = numpy_model_path(pretrained)
        has_numpy = numpy_file.is_file() or numpy_file.is_symlink()  # a link is refused when loaded, with a message
        sources.append(ModelSource(
            label=describe(PRETRAINED_LABEL, info.get("model", "fast"), info.get("test_accuracy")),
            path=str(pretrained), mtime=pretrained.stat().st_mtime, model=info.get("model", "fast"),
            test_accuracy=info.get("test_accuracy"), numpy_path=str(numpy_file) if has_numpy else None,
            numpy_missing_reason=None if has_numpy else f"its NumPy file {numpy_file.name} is missing",
        ))
    for run in list_runs(runs_dir):
        model_file = run.path / MODEL_FILE
        try:
            mtime = model_file.lstat().st_mtime  # lstat: a link is listed (and refused when loaded), never followed
        except OSError:  # no model yet (still in its first epoch, or failed)
            continue
        numpy_file = run.path / NUMPY_MODEL_FILE
        has_numpy = numpy_file.is_file() or numpy_file.is_symlink()  # a link is refused when loaded, with a message
        sources.append(ModelSource(
            label=describe(run.name, run.model, run.test_accuracy), path=str(model_file), mtime=mtime,
            model=run.model, run_name=run.name, test_accuracy=run.test_accuracy, has_predictions=run.has_predictions,
            initializer=str(run.config.get("initializer", "preset")), runs_dir=str(run.path.parent),
            numpy_path=str(numpy_file) if has_numpy else None,
            numpy_missing_reason=None if has_numpy else numpy_missing_reason(run.path.parent, run.name),
        ))
    return sources


def newest_own_source(sources: Sequence[ModelSource], is_own: Callable[[ModelSource], bool]) -> ModelSource | None:
    """The newest saved run in `sources` (as `model_sources` orders them) that `is_own` says is the visitor's;
    None when they have none, and the views open on the shipped model."""
    return next((source for source in sources if source.run_name is not None and is_own(source)), None)


def load_source_model(source: ModelSource):
    """The source's Keras model, loaded in safe mode (imports TensorFlow).

    Raises:
        RunError: if the file is missing or cannot be loaded.
    """
    if source.is_pretrained:
        return load_pretrained_model(source.path)
    return load_model(source.run_name, source.runs_dir)


def load_source_numpy_model(source: ModelSource) -> NumpyModel:
    """The source's model from its NumPy file (no TensorFlow).

    Raises:
        RunError: if it has no NumPy file, or the file is a symbolic link or cannot be read.
    """
    if source.is_pretrained:
        return load_pretrained_numpy_model(numpy_model_path(source.path))
    return load_numpy_model(source.run_name, source.runs_dir)


def open_source_model(source: ModelSource):
    """The model a view runs: from the NumPy file when there is one, else the Keras model.

    Returns:
        A `NumpyModel`, or (only for a source without a NumPy file, see `tensorflow_note`) a
        Keras model.

    Raises:
        RunError: if the file cannot be read.
    """
    if source.numpy_path is not None:
        return load_source_numpy_model(source)
    return load_source_model(source)


def predictions_on_test_set(source: ModelSource, mnist: Mnist, runs_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The source's predictions on MNIST's 10,000 test images.

    A run's saved `predictions.npz` is read; for the shipped model (or a run without one)
    the model is run on the test set: its NumPy file in NumPy (about a second for the shipped
    model), or, without one, the Keras model in TensorFlow (a few seconds).

    Args:
        source: from `model_sources()`.
        mnist: the dataset whose `x_test` / `y_test` the predictions are for.
        runs_dir: the runs directory the source's run lies in; None = the one it was listed from.

    Returns:
        `(y_true, probabilities)`: int64 `(10000,)` and float32 `(10000, 10)`, in test-set order.

    Raises:
        RunError: if the saved predictions or the model cannot be read, or the saved
            predictions are not for this test set.
    """
    if source.run_name is not None and source.has_predictions:
        y_true, probabilities = load_predictions(source.run_name, runs_dir if runs_dir is not None else source.runs_dir)
        if len(y_true) != len(mnist.y_test) or not np.array_equal(y_true, mnist.y_test):
            raise RunError(
                f"Run {source.run_name!r}: its saved predictions are not for this MNIST test set "
                f"({len(y_true)} labels). Retrain the run with the current dataset."
            )
        return y_true.astype(np.int64), probabilities
    x_test = to_model_input(mnist.x_test)
    if source.numpy_path is not None:
        probabilities = load_source_numpy_model(source).predict(x_test)
    else:
        probabilities = load_source_model(source).predict(prediction_batches(x_test), verbose=0)
    return mnist.y_test.astype(np.int64), np.asarray(probabilities, dtype=np.float32)
