"""A run's calibration: ECE and reliability bins on unseen test images, before and after temperature scaling.

The test probabilities are the run's own (`predictions.npz`, those its test accuracy was computed
from). Where the run held out a validation split (`validation='holdout'`), the temperature is
fitted on it (runs do not save validation predictions, so they are computed here with the run's
NumPy model on the run's own split, `core.data.splits.make_splits`), and the ECE is measured on
all 10,000 test images. A run that validated on the test set (`validation='test'`, write-up 004)
or on nothing (`fast`: no training image was held out) has no unseen image but the test
images: its temperature is fitted on the first half of the test set, and the
ECE measured on the second half. `fitted_on` and `evaluated_on` say which. Cached in
`calibration.json`, kept while the run's predictions file is unchanged.
"""

from __future__ import annotations

import json
import os

import numpy as np

from core.calibration.ece import DEFAULT_BINS, expected_calibration_error, reliability_bins
from core.calibration.temperature import apply_temperature, fit_temperature
from core.config.train_config import ConfigError, from_dict
from core.data.mnist import Mnist, load_mnist
from core.data.splits import make_splits, to_model_input
from core.runs.atomic_files import write_json_atomic
from core.runs.store import NUMPY_MODEL_FILE, PREDICTIONS_FILE, RunError, load_numpy_model, load_predictions, load_run, run_path

CALIBRATION_FILE = "calibration.json"
CACHE_VERSION = 1


def calibration_of(test_probabilities: np.ndarray, y_test: np.ndarray, val_probabilities: np.ndarray,
                   y_val: np.ndarray, bins: int = DEFAULT_BINS) -> dict:
    """ECE and reliability bins on the test set, before and after a temperature fitted on the validation set.

    Args:
        test_probabilities: `(n, 10)` test-set outputs; `y_test` their labels.
        val_probabilities: `(m, 10)` validation outputs the temperature is fitted on; `y_val` their labels.
        bins: reliability bins.

    Returns:
        `{"ece", "ece_after_temperature", "temperature", "accuracy", "accuracy_after_temperature",
        "bins", "bins_after_temperature"}` (accuracies on the test set).
    """
    temperature = fit_temperature(val_probabilities, y_val)
    scaled = apply_temperature(test_probabilities, temperature)
    return {
        "ece": expected_calibration_error(test_probabilities, y_test, bins),
        "ece_after_temperature": expected_calibration_error(scaled, y_test, bins),
        "temperature": temperature,
        "accuracy": float(np.mean(np.argmax(test_probabilities, axis=1) == y_test)),
        "accuracy_after_temperature": float(np.mean(np.argmax(scaled, axis=1) == y_test)),
        "bins": reliability_bins(test_probabilities, y_test, bins),
        "bins_after_temperature": reliability_bins(scaled, y_test, bins),
    }


def _stamp(runs_dir, name: str) -> dict:
    try:
        info = (run_path(runs_dir, name) / PREDICTIONS_FILE).stat()  # written with the model, after it
    except OSError:
        return {}
    return {"version": CACHE_VERSION, "predictions_bytes": info.st_size, "predictions_mtime_ns": info.st_mtime_ns}


def cached_calibration(name: str, runs_dir: str | os.PathLike | None = None) -> dict | None:
    """The run's cached calibration, or None if there is none, it is unreadable or stale."""
    try:
        cached = json.loads((run_path(runs_dir, name) / CALIBRATION_FILE).read_text())
    except (OSError, ValueError):
        return None
    stamp = _stamp(runs_dir, name)
    if not isinstance(cached, dict) or not stamp or cached.get("stamp") != stamp:
        return None
    return cached


def calibrate_run(name: str, runs_dir: str | os.PathLike | None = None, mnist: Mnist | None = None,
                  recompute: bool = False) -> dict:
    """The run's calibration (`calibration_of`), plus `"fitted_on"`, `"evaluated_on"`, `"validation_images"`, `"run"`; cached.

    Args:
        name: a finished run with test predictions (and, if it held out a validation split, a NumPy model).
        runs_dir: where runs are saved.
        mnist: MNIST (default: `load_mnist()`).
        recompute: compute even when a cached result is up to date.

    Raises:
        RunError: if the run is missing, unfinished, has no NumPy model, or its folder cannot be written.
        DatasetError: if MNIST cannot be found.
    """
    run = load_run(name, runs_dir)
    if not recompute and (cached := cached_calibration(name, runs_dir)) is not None:
        return cached
    y_test, test_probabilities = load_predictions(name, runs_dir)
    try:
        config = from_dict(run.config)
    except (ConfigError, TypeError) as error:
        raise RunError(f"Run {name!r}: its config.json cannot be read as settings ({error}). Delete the run and retrain.") from None
    if config.validation == "holdout":
        if not (run_path(runs_dir, name) / NUMPY_MODEL_FILE).is_file():
            raise RunError(f"Run {name!r} has no NumPy model file ({NUMPY_MODEL_FILE}): its calibration predicts its "
                           "validation split without TensorFlow and needs it. Pick a run that finished with one, or retrain this one.")
        model = load_numpy_model(name, runs_dir)
        splits = make_splits(mnist or load_mnist(), config)
        y_val, val_probabilities = splits.y_val, model.predict(to_model_input(splits.val_images))
        fitted_on = f"the run's validation split ({len(y_val):,} held-out training images)"
        evaluated_on = f"the {len(y_test):,} test images"
    else:
        half = len(y_test) // 2
        y_val, val_probabilities = y_test[:half], test_probabilities[:half]
        y_test, test_probabilities = y_test[half:], test_probabilities[half:]
        fitted_on = (f"the first {half:,} test images (the run "
                     + ("validated on the test set" if config.validation == "test" else "kept no validation split")
                     + ")")
        evaluated_on = f"the other {len(y_test):,} test images"
    result = calibration_of(test_probabilities, y_test, val_probabilities, y_val)
    result.update(run=name, fitted_on=fitted_on, evaluated_on=evaluated_on, validation_images=int(len(y_val)),
                  stamp=_stamp(runs_dir, name))
    try:
        write_json_atomic(run_path(runs_dir, name) / CALIBRATION_FILE, result)
    except OSError as error:
        raise RunError(f"Run {name!r}: its calibration could not be saved ({error.strerror or error}). "
                       "Free disk space or make the runs directory writable, then try again.") from None
    return result
