"""Every trained model a view can pick: the shipped pretrained one and each saved run's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.input_pipeline import prediction_batches
from core.data.mnist import Mnist
from core.data.splits import to_model_input
from core.runs.pretrained import PRETRAINED_LABEL, PRETRAINED_MODEL_PATH, pretrained_info
from core.runs.store import MODEL_FILE, RunError, list_runs, load_model_file, load_predictions


@dataclass(frozen=True)
class ModelSource:
    """One saved model file and what the pickers show about it.

    `mtime` is the model file's modification time: with `path` it keys caches, so a run
    retrained under the same name is reloaded.
    """

    label: str
    path: str
    mtime: float
    model: str  # the zoo model name
    run_name: str | None = None  # None for the shipped pretrained model
    test_accuracy: float | None = None
    has_predictions: bool = False  # a saved `predictions.npz` on the test set
    initializer: str = "preset"  # the run's `TrainConfig.initializer`

    @property
    def is_pretrained(self) -> bool:
        return self.run_name is None


def describe(name: str, model: str, test_accuracy: float | None) -> str:
    accuracy = "" if test_accuracy is None else f", {test_accuracy:.2%} test"
    return f"{name} ({model}{accuracy})"


def model_sources(runs_dir: str | os.PathLike | None = None, pretrained_path: str | os.PathLike | None = None) -> list[ModelSource]:
    """The shipped model (when its file exists), then every saved run with a model, newest first.

    Args:
        runs_dir: the runs directory; None = `$MNIST_LAB_RUNS_DIR` or `runs/`.
        pretrained_path: the shipped `.keras` file; None = `pretrained/mnist_fast.keras`.

    Returns:
        A list of `ModelSource`; empty when there is neither a shipped model nor a saved one.
    """
    sources = []
    pretrained = Path(pretrained_path) if pretrained_path is not None else PRETRAINED_MODEL_PATH
    if pretrained.is_file():
        info = pretrained_info(pretrained)
        sources.append(ModelSource(
            label=describe(PRETRAINED_LABEL, info.get("model", "fast"), info.get("test_accuracy")),
            path=str(pretrained), mtime=pretrained.stat().st_mtime, model=info.get("model", "fast"),
            test_accuracy=info.get("test_accuracy"),
        ))
    for run in list_runs(runs_dir):
        model_file = run.path / MODEL_FILE
        try:
            mtime = model_file.stat().st_mtime
        except OSError:  # no model yet (still in its first epoch, or failed)
            continue
        sources.append(ModelSource(
            label=describe(run.name, run.model, run.test_accuracy), path=str(model_file), mtime=mtime,
            model=run.model, run_name=run.name, test_accuracy=run.test_accuracy, has_predictions=run.has_predictions,
            initializer=str(run.config.get("initializer", "preset")),
        ))
    return sources


def load_source_model(source: ModelSource):
    """The source's Keras model, loaded in safe mode.

    Raises:
        RunError: if the file is missing or cannot be loaded.
    """
    return load_model_file(source.path, source.label)


def predictions_on_test_set(source: ModelSource, mnist: Mnist, runs_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The source's predictions on MNIST's 10,000 test images.

    A run's saved `predictions.npz` is read; for the shipped model (or a run without one)
    the model is loaded and run on the test set (a few seconds on a CPU).

    Args:
        source: from `model_sources()`.
        mnist: the dataset whose `x_test` / `y_test` the predictions are for.
        runs_dir: the runs directory the source's run lies in.

    Returns:
        `(y_true, probabilities)`: int64 `(10000,)` and float32 `(10000, 10)`, in test-set order.

    Raises:
        RunError: if the saved predictions or the model cannot be read, or the saved
            predictions are not for this test set.
    """
    if source.run_name is not None and source.has_predictions:
        y_true, probabilities = load_predictions(source.run_name, runs_dir)
        if len(y_true) != len(mnist.y_test) or not np.array_equal(y_true, mnist.y_test):
            raise RunError(
                f"Run {source.run_name!r}: its saved predictions are not for this MNIST test set "
                f"({len(y_true)} labels). Retrain the run with the current dataset."
            )
        return y_true.astype(np.int64), probabilities
    model = load_source_model(source)
    probabilities = model.predict(prediction_batches(to_model_input(mnist.x_test)), verbose=0)
    return mnist.y_test.astype(np.int64), np.asarray(probabilities, dtype=np.float32)
