"""The map through the epochs: the same test digits placed by each kept checkpoint's penultimate activations.

A run with checkpoints gets, beside its `embedding.npz`, an `embedding_epochs.npz` (uncompressed, read with
`allow_pickle=False`):

    meta        a 0-d string array holding JSON: {"format": "mnist-lab-embedding-epochs", "version": 1,
                "anchor_epoch": 5, "views": ["pca"], "seconds": {...}}
    epochs      int32 `(E,)`: the kept epochs, ascending
    indices     int32 `(n,)`: the map's test digits (the same as `embedding.npz`'s)
    y_pred      uint8 `(E, n)`: each epoch's predictions for them (its checkpoint's test predictions)
    pca         float32 `(E, n, 2)`: each epoch's two directions of most variance, aligned (below)

Each epoch's view is its own PCA to 2-D: the features of that epoch, nothing borrowed from another. PCA's
directions have no fixed sign or order, and the features grow in scale as a network trains, so each epoch's
points are moved onto their neighbour's by orthogonal Procrustes with a uniform scale (a rotation or
reflection, a scaling and a shift: the shape of the cloud is kept, only how it is turned changes). The
chain starts at the anchor, the epoch whose model the run kept (the map's `pca` view, unchanged), and goes
outwards one epoch at a time, so consecutive epochs are aligned with each other and the last step lands on
the map the page showed before.

Why PCA and not t-SNE per epoch: PCA of 5,000 x 128 features costs milliseconds an epoch; a t-SNE started
from the next epoch's layout costs seconds an epoch (`bench/results/embedding_map.txt`), which a class of
40 runs with 10-30 kept epochs each would pay in the workers. The t-SNE view keeps its one layout (the kept
model's) and shows each epoch's mistakes on it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from core.embedding.embedding_map import EmbeddingMap
from core.novelty.digit_statistics import read_archive  # the one reader of a feature file's arrays and meta

FORMAT = "mnist-lab-embedding-epochs"
FORMAT_VERSION = 1
EPOCH_MAPS_FILE = "embedding_epochs.npz"  # in a run folder with checkpoints
MOVING_VIEWS = ("pca",)  # the views whose points move with the epochs


class EpochMapsFileError(ValueError):
    """An `embedding_epochs.npz` cannot be read: missing parts, wrong shapes, another format or version."""


def principal_plane(features: np.ndarray) -> np.ndarray:
    """The features' coordinates on their two directions of most variance, float64 `(n, 2)`.

    Computed from the `(d, d)` covariance (one matmul and a small eigendecomposition), not an SVD of the
    `(n, d)` matrix: the same directions, a fraction of the work.
    """
    features = np.asarray(features, dtype=np.float64)
    centred = features - features.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    return centred @ vectors[:, ::-1][:, :2]


def similarity_fit(points: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The rotation (or reflection), scale and shift that bring `points` closest to `target` (least squares).

    Orthogonal Procrustes with a uniform scale (Umeyama, 1991, reflections allowed).

    Args:
        points, target: float `(n, 2)`, row i of each the same digit.

    Returns:
        `(rotation (2, 2), scale, shift (2,))`, so that `scale * points @ rotation + shift` ≈ `target`.
    """
    points, target = np.asarray(points, np.float64), np.asarray(target, np.float64)
    points_mean, target_mean = points.mean(axis=0), target.mean(axis=0)
    centred, centred_target = points - points_mean, target - target_mean
    left, singular, right = np.linalg.svd(centred.T @ centred_target)
    rotation = left @ right
    spread = float((centred ** 2).sum())
    scale = float(singular.sum() / spread) if spread > 0 else 1.0
    return rotation, scale, target_mean - scale * points_mean @ rotation


def align_to(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`points` turned, scaled and shifted onto `target` (see `similarity_fit`), float32 `(n, 2)`."""
    rotation, scale, shift = similarity_fit(points, target)
    return (scale * np.asarray(points, np.float64) @ rotation + shift).astype(np.float32)


def alignment_order(epochs: list[int], anchor: int) -> list[tuple[int, int]]:
    """`(epoch, neighbour it is aligned to)` in the order to compute them: outwards from `anchor`.

    >>> alignment_order([1, 2, 4, 5], 4)
    [(2, 4), (1, 2), (5, 4)]
    """
    at = epochs.index(anchor)
    before = [(epochs[i], epochs[i + 1]) for i in range(at - 1, -1, -1)]
    after = [(epochs[i], epochs[i - 1]) for i in range(at + 1, len(epochs))]
    return before + after


@dataclass(frozen=True)
class EpochMaps:
    """The map's test digits at every kept epoch: their places on the moving views, and the predictions.

    Attributes:
        epochs: int `(E,)`, the kept epochs, ascending.
        anchor_epoch: the epoch whose model the run kept: its views are the map's own.
        indices: int `(n,)`, the map's test digits (indices into MNIST's test set).
        y_pred: uint8 `(E, n)`, each epoch's predictions for them.
        views: float32 `(E, n, 2)` per moving view name (`"pca"`).
        meta: what else the file says (seconds per step).
    """

    epochs: np.ndarray
    anchor_epoch: int
    indices: np.ndarray
    y_pred: np.ndarray
    views: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def position(self, epoch: int) -> int:
        """Row of `epoch` in the arrays.

        Raises:
            ValueError: if the epoch has no maps here.
        """
        found = np.flatnonzero(self.epochs == epoch)
        if not len(found):
            raise ValueError(f"Received an invalid value for `epoch`: {epoch!r}; the maps are for epochs "
                             f"{', '.join(map(str, self.epochs.tolist()))}. Pick one of them.")
        return int(found[0])

    def view_at(self, view: str, epoch: int) -> np.ndarray:
        """float32 `(n, 2)`: the digits' places on `view` after `epoch`."""
        return self.views[view][self.position(epoch)]

    def predictions_at(self, epoch: int) -> np.ndarray:
        """uint8 `(n,)`: the model's predictions for the map's digits after `epoch`."""
        return self.y_pred[self.position(epoch)]

    def extent(self, view: str, margin: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
        """`((x_min, x_max), (y_min, y_max))` of `view` over all epochs, widened by `margin` of each side's span:
        fixed axes, so that scrubbing moves the digits, not the axes."""
        points = self.views[view].reshape(-1, 2)
        low, high = points.min(axis=0), points.max(axis=0)
        pad = (high - low) * margin
        return (float(low[0] - pad[0]), float(high[0] + pad[0])), (float(low[1] - pad[1]), float(high[1] + pad[1]))

    def save(self, path: str | os.PathLike) -> None:
        """Write the maps to a `.npz` file (see the module docstring)."""
        meta = {**self.meta, "format": FORMAT, "version": FORMAT_VERSION, "anchor_epoch": int(self.anchor_epoch),
                "views": list(self.views)}
        with open(path, "wb") as file:
            np.savez(file, meta=np.array(json.dumps(meta)), epochs=self.epochs.astype(np.int32),
                     indices=self.indices.astype(np.int32), y_pred=self.y_pred.astype(np.uint8),
                     **{name: view.astype(np.float32) for name, view in self.views.items()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> EpochMaps:
        """Read maps written by `save`, checking that their arrays fit together.

        Raises:
            EpochMapsFileError: if the file is not such maps (the message says what is wrong).
            OSError: if it cannot be read.
        """
        arrays, meta = read_archive(path, FORMAT, FORMAT_VERSION, EpochMapsFileError)
        views = meta.get("views")
        if not isinstance(views, list) or not all(isinstance(view, str) and view in MOVING_VIEWS for view in views):
            raise EpochMapsFileError(f"its views {views!r} are not among {list(MOVING_VIEWS)}")
        missing = [name for name in ("epochs", "indices", "y_pred", *views) if name not in arrays]
        if missing:
            raise EpochMapsFileError(f"it lacks the arrays {missing}")
        epochs, n = arrays["epochs"], len(arrays["indices"])
        expected = {"epochs": (len(epochs),), "y_pred": (len(epochs), n), **{view: (len(epochs), n, 2) for view in views}}
        wrong = [name for name, shape in expected.items() if arrays[name].shape != shape]
        anchor = meta.get("anchor_epoch")
        if wrong or n == 0 or len(epochs) == 0:
            raise EpochMapsFileError(f"its arrays do not fit together ({', '.join(wrong) or 'no digits or no epochs'})")
        if not np.all(np.diff(epochs) > 0) or anchor not in epochs.tolist():
            raise EpochMapsFileError(f"its epochs {epochs.tolist()} are not ascending or lack the anchor epoch {anchor!r}")
        return cls(epochs=epochs, anchor_epoch=int(anchor), indices=arrays["indices"], y_pred=arrays["y_pred"],
                   views={view: arrays[view] for view in views},
                   meta={key: value for key, value in meta.items() if key not in ("format", "version", "anchor_epoch", "views")})


def build_epoch_maps(embedding: EmbeddingMap, anchor_epoch: int, planes: dict[int, np.ndarray],
                     predictions: dict[int, np.ndarray]) -> EpochMaps:
    """Each epoch's PCA view of the map's digits, aligned outwards from the anchor epoch's (the map's own).

    Args:
        embedding: the run's map (its digits, and its `pca` view: the anchor epoch's).
        anchor_epoch: the epoch whose model the map was computed from.
        planes: float `(n, 2)` per epoch but the anchor: the map's digits on that epoch's own principal plane
            (`principal_plane` of its penultimate activations).
        predictions: int `(n,)` per epoch but the anchor: the model's predictions for the map's digits after it
            (the anchor's are the map's own).

    Returns:
        The `EpochMaps`, epochs ascending.

    Raises:
        ValueError: if `planes` and `predictions` hold other epochs than each other (or the anchor), or an
            epoch's arrays are not one row per map digit.
    """
    if anchor_epoch in planes or set(predictions) != set(planes):
        raise ValueError(f"`planes` and `predictions` must hold the same epochs, the anchor epoch not among them. "
                         f"Received: anchor_epoch={anchor_epoch}, planes for {sorted(planes)}, predictions for {sorted(predictions)}")
    n = len(embedding.indices)
    wrong = [epoch for epoch in planes if np.shape(planes[epoch]) != (n, 2) or len(predictions[epoch]) != n]
    if wrong:
        raise ValueError(f"Each epoch's `planes` and `predictions` must have one row per map digit ({n}). "
                         f"Received other shapes for epochs {sorted(wrong)}.")
    epochs = sorted([int(anchor_epoch), *(int(epoch) for epoch in planes)])
    placed = {anchor_epoch: np.asarray(embedding.views["pca"], np.float32)}
    for epoch, neighbour in alignment_order(epochs, anchor_epoch):
        placed[epoch] = align_to(planes[epoch], placed[neighbour])
    every = {**predictions, anchor_epoch: embedding.y_pred}
    return EpochMaps(epochs=np.asarray(epochs, np.int32), anchor_epoch=int(anchor_epoch),
                     indices=np.asarray(embedding.indices), y_pred=np.stack([np.asarray(every[e]) for e in epochs]).astype(np.uint8),
                     views={"pca": np.stack([placed[epoch] for epoch in epochs])})


@dataclass(frozen=True)
class MapFrame:
    """What a map shows on one view at one epoch.

    Attributes:
        coordinates: float32 `(n, 2)`: the digits' places.
        y_pred: `(n,)`: the predictions the mistakes and hover come from.
        axis_ranges: fixed axes for a view that moves with the epochs (None: fit to the points).
        moves: whether the places are this epoch's own (False: the anchor epoch's layout, this epoch's mistakes).
    """

    coordinates: np.ndarray
    y_pred: np.ndarray
    axis_ranges: tuple[tuple[float, float], tuple[float, float]] | None
    moves: bool


def map_frame(embedding: EmbeddingMap, epoch_maps: EpochMaps | None, view: str, epoch: int | None) -> MapFrame:
    """The map's `view` after `epoch`: the map as it is at the anchor epoch (or without `epoch_maps`, or
    `epoch` None); at another epoch, its places on a moving view and its predictions everywhere.

    Raises:
        ValueError: if `epoch_maps` has no maps for `epoch` (the message lists the epochs it has).
    """
    if epoch_maps is None:
        return MapFrame(embedding.views[view], embedding.y_pred, None, False)
    anchored = epoch is None or epoch == epoch_maps.anchor_epoch
    if view not in epoch_maps.views:
        return MapFrame(embedding.views[view], embedding.y_pred if anchored else epoch_maps.predictions_at(epoch), None, False)
    at = epoch_maps.anchor_epoch if epoch is None else epoch
    return MapFrame(epoch_maps.view_at(view, at), embedding.y_pred if anchored else epoch_maps.predictions_at(at),
                    epoch_maps.extent(view), True)


def maps_fit(embedding: EmbeddingMap, epoch_maps: EpochMaps) -> bool:
    """Whether `epoch_maps` were computed for `embedding`'s digits (a map computed again later may hold others)."""
    return np.array_equal(embedding.indices, epoch_maps.indices)
