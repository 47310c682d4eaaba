"""A run's embedding map: test digits placed in 2-D by their penultimate activations, and a new image placed among them.

Computed once, where the run ends (in the worker that trained it, `core.runs.feature_files`), and
saved in the run folder as `embedding.npz` (uncompressed, read with `allow_pickle=False`):

    meta            a 0-d string array holding JSON: {"format": "mnist-lab-embedding", "version": 1,
                    "method": "tsne", "seconds": {"features": ..., "pca": ..., "tsne": ...}, ...}
    indices         int32 `(n,)`: which test digits (indices into MNIST's test set)
    y_true, y_pred  uint8 `(n,)`: their labels and the model's predictions
    pca_mean        float32 `(d,)`, pca_basis float32 `(d, k)`: the features' PCA, k = 50
    reduced         float16 `(n, k)`: the test digits in PCA space (neighbours are found there)
    pca             float32 `(n, 2)`: the first two PCA components (the linear view)
    <method>        float32 `(n, 2)`: the nonlinear view (t-SNE)
    train_indices   int32 `(m,)`, train_labels uint8 `(m,)`, train_reduced float16 `(m, k)`:
                    training digits in PCA space, to show a drawing's nearest training digits

Placing a new image needs NumPy only: its features go through the same PCA; on the PCA view that
is its exact place; on the t-SNE view it goes to the distance-weighted mean of its nearest test
digits' places (the way openTSNE's and UMAP's own `transform` start a new point), so the web
server never imports openTSNE.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from core.novelty.digit_statistics import read_archive  # the one reader of a feature file's arrays and meta

FORMAT = "mnist-lab-embedding"
FORMAT_VERSION = 1
EMBEDDING_FILE = "embedding.npz"  # in a run folder; `mnist_fast.embedding.npz` beside the shipped model
MAP_DIGITS = 5_000  # test digits on a map
NEIGHBOURS_PLACED_BY = 10  # nearest test digits whose places average into a new image's place
ARRAYS = ("indices", "y_true", "y_pred", "pca_mean", "pca_basis", "reduced", "pca",
          "train_indices", "train_labels", "train_reduced")


class EmbeddingFileError(ValueError):
    """An `embedding.npz` cannot be read: missing parts, wrong shapes, another format or version."""


@dataclass(frozen=True)
class Placement:
    """Where a new image lands on a map, and its nearest digits.

    Attributes:
        coordinates: its `(x, y)` on each view, by view name (`"pca"`, and the map's method).
        nearest_test: indices into the map's points (not into MNIST) of its nearest test digits, nearest first.
        nearest_train: indices into the map's training pool of its nearest training digits, nearest first.
    """

    coordinates: dict[str, tuple[float, float]]
    nearest_test: np.ndarray
    nearest_train: np.ndarray


@dataclass(frozen=True)
class EmbeddingMap:
    """The 2-D views of a run's test digits, and what is needed to place a new image on them.

    Attributes:
        method: the nonlinear view's method (`"tsne"`).
        indices: int32 `(n,)`, the test digits' indices in MNIST's test set.
        y_true, y_pred: uint8 `(n,)`, their labels and the model's predictions.
        pca_mean, pca_basis: float32 `(d,)` and `(d, k)`: the PCA of the features.
        reduced: float16 `(n, k)`: the test digits in PCA space.
        views: float32 `(n, 2)` per view name: `"pca"` and `method`.
        train_indices, train_labels, train_reduced: a pool of training digits in PCA space.
        meta: what else the file says (seconds per step, the model's epoch...).
    """

    method: str
    indices: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    pca_mean: np.ndarray
    pca_basis: np.ndarray
    reduced: np.ndarray
    views: dict[str, np.ndarray]
    train_indices: np.ndarray
    train_labels: np.ndarray
    train_reduced: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def feature_size(self) -> int:
        return int(self.pca_mean.shape[0])

    @property
    def mistakes(self) -> np.ndarray:
        """bool `(n,)`: where the model's prediction is wrong."""
        return self.y_true != self.y_pred

    def project(self, features: np.ndarray) -> np.ndarray:
        """Features `(n, d)` in this map's PCA space, float32 `(n, k)`.

        Raises:
            ValueError: if the features are not the size this map's model gives.
        """
        features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
        if features.shape[1] != self.feature_size:
            raise ValueError(f"`features` must have {self.feature_size} values each, as the model of this map. "
                             f"Received: features.shape={features.shape}")
        return (features - self.pca_mean) @ self.pca_basis

    def place(self, features: np.ndarray, neighbours: int = 8) -> Placement:
        """Place one image on every view from its features `(d,)`, with its nearest digits.

        Args:
            features: float `(d,)` or `(1, d)`: the image's penultimate activations.
            neighbours: how many nearest test and training digits to return.

        Returns:
            A `Placement`.
        """
        point = self.project(np.asarray(features).reshape(1, -1))[0]
        test_distances = np.linalg.norm(self.reduced.astype(np.float32) - point, axis=1)
        nearest = np.argsort(test_distances, kind="stable")
        closest = nearest[:NEIGHBOURS_PLACED_BY]
        weights = 1.0 / np.maximum(test_distances[closest], 1e-6)
        weights /= weights.sum()
        coordinates = {"pca": (float(point[0]), float(point[1]))}
        for name, view in self.views.items():
            if name != "pca":
                x, y = weights @ view[closest]
                coordinates[name] = (float(x), float(y))
        train_distances = np.linalg.norm(self.train_reduced.astype(np.float32) - point, axis=1)
        return Placement(coordinates=coordinates, nearest_test=nearest[:neighbours],
                         nearest_train=np.argsort(train_distances, kind="stable")[:neighbours])

    def save(self, path: str | os.PathLike) -> None:
        """Write the map to a `.npz` file (see the module docstring)."""
        meta = {**self.meta, "format": FORMAT, "version": FORMAT_VERSION, "method": self.method}
        arrays = {"indices": self.indices.astype(np.int32), "y_true": self.y_true.astype(np.uint8),
                  "y_pred": self.y_pred.astype(np.uint8), "pca_mean": self.pca_mean.astype(np.float32),
                  "pca_basis": self.pca_basis.astype(np.float32), "reduced": self.reduced.astype(np.float16),
                  "train_indices": self.train_indices.astype(np.int32), "train_labels": self.train_labels.astype(np.uint8),
                  "train_reduced": self.train_reduced.astype(np.float16)}
        arrays.update({name: view.astype(np.float32) for name, view in self.views.items()})
        with open(path, "wb") as file:
            np.savez(file, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> EmbeddingMap:
        """Read a map written by `save`, checking that its arrays fit together.

        Raises:
            EmbeddingFileError: if the file is not such a map (the message says what is wrong).
            OSError: if it cannot be read.
        """
        arrays, meta = read_archive(path, FORMAT, FORMAT_VERSION, EmbeddingFileError)
        method = meta.get("method")
        missing = [name for name in (*ARRAYS, method) if not isinstance(name, str) or name not in arrays]
        if missing:
            raise EmbeddingFileError(f"it lacks the arrays {missing}")
        n, m = len(arrays["indices"]), len(arrays["train_indices"])
        d, k = arrays["pca_basis"].shape if arrays["pca_basis"].ndim == 2 else (-1, -1)
        expected = {"indices": (n,), "y_true": (n,), "y_pred": (n,), "pca_mean": (d,), "reduced": (n, k),
                    "pca": (n, 2), method: (n, 2), "train_labels": (m,), "train_reduced": (m, k)}
        wrong = [name for name, shape in expected.items() if arrays[name].shape != shape]
        if wrong or n == 0:
            raise EmbeddingFileError(f"its arrays do not fit together ({', '.join(wrong) or 'no digits'})")
        return cls(method=method, indices=arrays["indices"], y_true=arrays["y_true"], y_pred=arrays["y_pred"],
                   pca_mean=arrays["pca_mean"], pca_basis=arrays["pca_basis"], reduced=arrays["reduced"],
                   views={method: arrays[method], "pca": arrays["pca"]}, train_indices=arrays["train_indices"],
                   train_labels=arrays["train_labels"], train_reduced=arrays["train_reduced"],
                   meta={key: value for key, value in meta.items() if key not in ("format", "version")})


def build_embedding_map(test_features: np.ndarray, test_labels: np.ndarray, test_predictions: np.ndarray,
                        test_indices: np.ndarray, train_features: np.ndarray, train_labels: np.ndarray,
                        train_indices: np.ndarray, method: str = "tsne", seed: int = 0) -> EmbeddingMap:
    """Reduce test digits' features to the map's views: PCA (NumPy), then `method` on the PCA space.

    Args:
        test_features: float `(n, d)`, the map's digits' penultimate activations.
        test_labels, test_predictions: int `(n,)`, their labels and the model's predictions.
        test_indices: int `(n,)`, their indices in MNIST's test set.
        train_features: float `(m, d)`, a pool of training digits (for nearest training digits).
        train_labels, train_indices: int `(m,)`.
        method: `"tsne"` (or `"umap"`, measured in the bench, where umap-learn is installed).
        seed: the nonlinear view's seed.

    Returns:
        The `EmbeddingMap`; its `meta["seconds"]` says how long each step took.
    """
    import time

    from core.embedding.reducers import fit_pca, reduce_2d

    started = time.perf_counter()
    pca_mean, pca_basis = fit_pca(test_features)
    reduced = (np.asarray(test_features, np.float32) - pca_mean) @ pca_basis
    pca_seconds = time.perf_counter() - started
    started = time.perf_counter()
    view = reduce_2d(reduced, method, seed)
    method_seconds = time.perf_counter() - started
    return EmbeddingMap(
        method=method, indices=np.asarray(test_indices), y_true=np.asarray(test_labels), y_pred=np.asarray(test_predictions),
        pca_mean=pca_mean, pca_basis=pca_basis, reduced=reduced.astype(np.float16),
        views={"pca": reduced[:, :2].astype(np.float32), method: view}, train_indices=np.asarray(train_indices),
        train_labels=np.asarray(train_labels),
        train_reduced=((np.asarray(train_features, np.float32) - pca_mean) @ pca_basis).astype(np.float16),
        meta={"seconds": {"pca": round(pca_seconds, 3), method: round(method_seconds, 3)}, "seed": seed},
    )
