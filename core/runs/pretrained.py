"""The small model that ships with the project, so Draw and Inspect work before any training.

`scripts/train_pretrained.py` trains it (the `fast` zoo model on all 60,000 MNIST training
images, with light shift / rotation / zoom augmentation so hand-drawn digits are recognised)
and saves it, without optimizer state, to `pretrained/mnist_fast.keras`, with its checked NumPy
translation beside it, `pretrained/mnist_fast.numpy.npz`: the web server predicts with that one,
without TensorFlow (`python scripts/train_pretrained.py --export-only` rewrites it from the
`.keras` file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.config.train_config import TrainConfig, preset_config
from core.data.mnist import PROJECT_ROOT
from core.models.numpy_forward import UnsupportedModel, translate_checked
from core.models.numpy_model import NumpyModel
from core.runs.atomic_files import atomic_path
from core.runs.store import RunError, load_model_file, load_numpy_model_file

PRETRAINED_DIR = PROJECT_ROOT / "pretrained"
PRETRAINED_MODEL_PATH = PRETRAINED_DIR / "mnist_fast.keras"
INFO_SUFFIX = ".json"  # `mnist_fast.json` beside the model: its config and test accuracy
NUMPY_MODEL_SUFFIX = ".numpy.npz"  # `mnist_fast.numpy.npz` beside the model: its layers for NumPy
PRETRAINED_NUMPY_MODEL_PATH = PRETRAINED_MODEL_PATH.with_suffix(NUMPY_MODEL_SUFFIX)
EXPORT_COMMAND = "python scripts/train_pretrained.py --export-only"
PRETRAINED_LABEL = "shipped model"  # its name in the model pickers; the space keeps it apart from every run name


def pretrained_config() -> TrainConfig:
    """The hyperparameters the shipped model was trained with.

    The `fast` preset (Adam, one-cycle schedule) with a narrower dense layer (128 units keeps
    the file under 1 MB), ten epochs, and augmentation: drawn digits are less centred, more
    slanted and of more varied size than MNIST's.
    """
    return preset_config(
        "fast", epochs=10, hidden_units=128, augment_shift=0.1, augment_rotation=10.0, augment_zoom=0.1,
        validation="none", seed=0,
    )


def load_pretrained_model(path: str | os.PathLike | None = None):
    """Load the shipped model in Keras's safe mode (no code from the file runs).

    Args:
        path: a `.keras` file; defaults to `pretrained/mnist_fast.keras`.

    Returns:
        The uncompiled Keras model: float32 `(batch, 28, 28, 1)` in `[0, 1]` →
        probabilities `(batch, 10)`.

    Raises:
        RunError: if the file is missing or cannot be loaded; the message says to run
            `python scripts/train_pretrained.py`.
    """
    path = Path(path) if path is not None else PRETRAINED_MODEL_PATH
    try:
        return load_model_file(path, "The shipped pretrained model")
    except RunError as error:
        raise RunError(f"{error} Recreate it with `python scripts/train_pretrained.py`.") from None


def numpy_model_path(model_path: str | os.PathLike) -> Path:
    """Where the NumPy translation of a shipped model lies: the same name, `.numpy.npz`."""
    return Path(model_path).with_suffix(NUMPY_MODEL_SUFFIX)


def load_pretrained_numpy_model(path: str | os.PathLike | None = None) -> NumpyModel:
    """Load the shipped model's NumPy translation: no Keras, no TensorFlow.

    Args:
        path: a `.numpy.npz` file; defaults to `pretrained/mnist_fast.numpy.npz`.

    Returns:
        The model: float32 `(batch, 28, 28, 1)` in `[0, 1]` → probabilities `(batch, 10)`.

    Raises:
        RunError: if the file is missing, a symbolic link or unreadable; the message says to run
            `python scripts/train_pretrained.py --export-only` for the last two.
    """
    path = Path(path) if path is not None else PRETRAINED_NUMPY_MODEL_PATH
    return load_numpy_model_file(path, "The shipped pretrained model", fix=f"Recreate it with `{EXPORT_COMMAND}`.")


def export_numpy_model_file(model, path: str | os.PathLike) -> Path:
    """Write a model's NumPy translation, checked against the model on probe images, atomically.

    Args:
        model: a Keras model, e.g. `load_pretrained_model()`.
        path: the `.numpy.npz` file to write.

    Returns:
        The file written.

    Raises:
        RunError: if the model has no NumPy translation, or it differs from the model (the
            message names the layer or the difference).
    """
    try:
        translation = translate_checked(model)
    except UnsupportedModel as error:
        raise RunError(f"The model cannot be saved for NumPy: {error}. The web server would load it with TensorFlow.") from None
    path = Path(path)
    with atomic_path(path, suffix=".npz") as temporary:
        translation.save(temporary)
    return path


def save_for_inference(model, path: str | os.PathLike) -> None:
    """Save a trained model's architecture and weights only: no optimizer state, no compile.

    Adam keeps two slots per weight, so dropping them makes the file a third the size.

    Args:
        model: a trained Keras model.
        path: the `.keras` file to write (its folder must exist).
    """
    copy = type(model).from_config(model.get_config())  # not `clone_model`: it compiles the copy
    copy.build(model.inputs[0].shape)
    copy.set_weights(model.get_weights())
    copy.save(path)


def info_path(model_path: str | os.PathLike) -> Path:
    """Where the description of a shipped model lies: the same name, `.json`."""
    return Path(model_path).with_suffix(INFO_SUFFIX)


def pretrained_info(path: str | os.PathLike | None = None) -> dict:
    """What `scripts/train_pretrained.py` recorded about the shipped model.

    Returns:
        A dict with `model`, `test_accuracy`, `config` and `command`; empty when the
        description file is missing or unreadable (the model itself still works).
    """
    try:
        info = json.loads(info_path(path or PRETRAINED_MODEL_PATH).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def write_pretrained_info(model_path: str | os.PathLike, config: TrainConfig, test_accuracy: float, command: str) -> Path:
    """Record, beside a shipped model, how it was trained and how it scored.

    Args:
        model_path: the `.keras` file just written.
        config: the config it was trained with.
        test_accuracy: its accuracy on MNIST's 10,000 test images.
        command: the command line that made it.

    Returns:
        The `.json` file written.
    """
    path = info_path(model_path)
    info = {"model": config.model, "test_accuracy": round(float(test_accuracy), 4), "command": command,
            "config": config.to_dict()}
    path.write_text(json.dumps(info, indent=2) + "\n")
    return path
