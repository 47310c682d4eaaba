"""A run's map through its epochs (`embedding_epochs.npz`): computed from its kept checkpoints, after its map.

When a run with two or more kept checkpoints ends, the worker that trained it runs each kept epoch's weights
on the map's 5,000 test digits (Keras: the model is built, only its weights change; in line, as the map's own
features, since the next job reuses the model: `compute_kept_epoch_features`); once the map is written, on the
map's thread, it takes each epoch's two directions of most variance, aligns them with the map and writes
`core.embedding.epoch_maps.EpochMaps` (`write_epoch_maps`): each epoch's PCA view, aligned with its
neighbours', and each epoch's predictions for those digits (its checkpoint's test predictions, as Errors
shows them). `python -m core embedding --run NAME` does the same from the checkpoints' NumPy models, for a
run that has none. The added cost, per kept epoch: the features of 5,000 digits and a PCA of 5,000 x d
(`bench/results/embedding_map.txt`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.mnist import Mnist
from core.data.splits import to_model_input
from core.embedding.embedding_map import EMBEDDING_FILE, MAP_DIGITS, EmbeddingMap
from core.embedding.epoch_maps import EPOCH_MAPS_FILE, EpochMaps, EpochMapsFileError, build_epoch_maps, principal_plane
from core.models.penultimate import numpy_features_and_logits
from core.runs.atomic_files import atomic_path
from core.runs.checkpoints import list_checkpoints, load_checkpoint_numpy_model, load_checkpoint_predictions, load_keras_state
from core.runs.feature_files import compute_command, feature_file, sample_indices
from core.runs.model_sources import ModelSource
from core.runs.store import RunError, read_run, run_path

# (epoch, images (n, 28, 28, 1)) -> (features (n, d), logits (n, 10)) of the run's model after that epoch
EpochFeatures = Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]]


def numpy_checkpoint_features(runs_dir, name: str) -> EpochFeatures:
    """Each kept epoch's features from its checkpoint's NumPy model (no TensorFlow: the CLI, a test)."""
    def features_at(epoch: int, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return numpy_features_and_logits(load_checkpoint_numpy_model(runs_dir, name, epoch))(images)

    return features_at


def keras_checkpoint_features(model, runs_dir, name: str) -> EpochFeatures:
    """Each kept epoch's features from `model` given that epoch's weights (in the worker, which has the model).

    One feature extractor over the model's layers for all epochs, so Keras traces its predict once; each
    call sets the epoch's weights on `model`: put the run's own back afterwards.
    """
    import keras

    head = model.layers[-1]
    extractor = keras.Model(model.inputs, head.input)

    def features_at(epoch: int, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weights, _ = load_keras_state(runs_dir, name, epoch)
        model.set_weights(weights)
        features = np.asarray(extractor.predict(images, batch_size=512, verbose=0), np.float32).reshape(len(images), -1)
        kernel, *bias = [np.asarray(array, np.float32) for array in head.get_weights()]
        return features, features @ kernel + (bias[0] if bias else 0.0)

    return features_at


def anchor_epoch(runs_dir, name: str, epochs: list[int]) -> int:
    """The epoch whose model run `name` kept (its best, with `keep_best_epoch`), else its last kept one."""
    try:
        recorded = read_run(run_path(runs_dir, name)).model_epoch
    except (RunError, OSError):
        recorded = None
    return recorded if recorded in epochs else epochs[-1]


def epoch_predictions(runs_dir, name: str, epoch: int, indices: np.ndarray, logits: np.ndarray | None) -> np.ndarray:
    """The epoch's predictions for the map's digits: its checkpoint's (what Errors shows), else argmax of `logits`."""
    try:
        _, probabilities = load_checkpoint_predictions(runs_dir, name, epoch)
        if len(probabilities) > int(indices.max()):
            return probabilities[indices].argmax(axis=1)
    except RunError:
        pass
    if logits is None:
        raise RunError(f"Run {name!r}, epoch {epoch}: no test predictions in its checkpoint to mark the map's mistakes.")
    return logits.argmax(axis=1)


@dataclass(frozen=True)
class KeptEpochFeatures:
    """What the map at each kept epoch needs from the checkpoints, computed before the map itself exists.

    Attributes:
        anchor: the epoch whose model the map shows (its own view and predictions are the map's).
        indices: int `(n,)`: the map's test digits.
        features: float32 `(n, d)` per other kept epoch: the digits' penultimate activations after it.
        predictions: int `(n,)` per other kept epoch: its predictions for them.
        seconds: how long the features took (`features`).
    """

    anchor: int
    indices: np.ndarray
    features: dict[int, np.ndarray]
    predictions: dict[int, np.ndarray]
    seconds: dict[str, float]


def compute_kept_epoch_features(runs_dir, name: str, features_at: EpochFeatures, mnist: Mnist, map_digits: int = MAP_DIGITS,
                         anchor: int | None = None) -> KeptEpochFeatures | None:
    """Each kept epoch's features of the map digits, and its predictions for them.

    Where a run ends, this runs in line (the worker's Keras model is reused by its next job), and nothing
    else does: `write_epoch_maps` makes each epoch's PCA and aligns it with the map, on the map's thread.

    Args:
        runs_dir, name: the run (its checkpoints).
        features_at: each epoch's features (`keras_checkpoint_features` or `numpy_checkpoint_features`).
        mnist: the dataset; map_digits: test digits on the map (the map's sample, `sample_indices`).
        anchor: the epoch whose model the map shows; None = the run's recorded one (`anchor_epoch`).

    Returns:
        The `KeptEpochFeatures`; None for a run with fewer than two kept checkpoints (nothing to scrub).

    Raises:
        RunError: if the anchor epoch has no checkpoint, or a checkpoint cannot be read.
    """
    epochs = list_checkpoints(runs_dir, name)
    if len(epochs) < 2:
        return None
    anchor = anchor_epoch(runs_dir, name, epochs) if anchor is None else anchor
    if anchor not in epochs:
        raise RunError(f"Run {name!r}: its map's epoch {anchor} has no checkpoint (kept: {epochs}), so the other "
                       "epochs cannot be aligned with it.")
    indices = sample_indices(mnist, map_digits)[0]
    images = to_model_input(mnist.x_test[indices])
    features, predictions, started = {}, {}, time.perf_counter()
    for epoch in epochs:
        if epoch == anchor:
            continue  # the map's own view and predictions
        features[epoch], logits = features_at(epoch, images)
        predictions[epoch] = epoch_predictions(runs_dir, name, epoch, indices, logits)
    return KeptEpochFeatures(anchor=anchor, indices=indices, features=features, predictions=predictions,
                             seconds={"features": time.perf_counter() - started})


def write_epoch_maps(folder: str | Path, kept: KeptEpochFeatures) -> dict[str, float]:
    """Each kept epoch's PCA, aligned with the run's map (its `embedding.npz`, already written): `embedding_epochs.npz`.

    Returns:
        Seconds per step: `features` (from `kept`), `pca` (each epoch's principal plane, the alignment and the
        writing), `total`.

    Raises:
        RunError: if the run has no readable map, or its map is of other digits than `kept`'s.
        OSError: if the file cannot be written.
    """
    started = time.perf_counter()
    folder = Path(folder)
    try:
        embedding = EmbeddingMap.load(folder / EMBEDDING_FILE)
    except (ValueError, OSError) as error:
        raise RunError(f"{folder.name} has no readable map to follow through its epochs ({error}).") from None
    if not np.array_equal(embedding.indices, kept.indices):
        raise RunError(f"{folder.name}'s map is of other digits than its epochs' features were computed for.")
    planes = {epoch: principal_plane(features) for epoch, features in kept.features.items()}
    maps = build_epoch_maps(embedding, kept.anchor, planes, kept.predictions)
    seconds = {**kept.seconds, "pca": time.perf_counter() - started}
    seconds["total"] = sum(seconds.values())
    maps = EpochMaps(**{**maps.__dict__, "meta": {"seconds": {key: round(value, 3) for key, value in seconds.items()}}})
    with atomic_path(folder / EPOCH_MAPS_FILE, suffix=".npz") as temporary:
        maps.save(temporary)
    return seconds


def read_epoch_maps(source: ModelSource) -> EpochMaps | None:
    """`source`'s maps through its epochs; None when it has none (the shipped model, a run without checkpoints,
    one whose maps were computed before this file existed).

    Raises:
        RunError: if the file exists but cannot be read (the message gives the command that computes it again).
    """
    if source.is_pretrained:
        return None
    path = feature_file(source, EPOCH_MAPS_FILE)
    fix = f"Compute it again with `{compute_command(source)}`."
    if path.is_symlink():
        raise RunError(f"{path.name} of {source.label} is a symbolic link, which is never followed. Delete it. {fix}")
    if not path.is_file():
        return None
    try:
        return EpochMaps.load(path)
    except (EpochMapsFileError, OSError) as error:
        raise RunError(f"The map through the epochs of {source.label} cannot be read ({error}). {fix}") from None
