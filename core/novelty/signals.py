"""The signals that tell a digit from anything else, each computed from a model's features or logits.

Every signal is oriented the same way: larger means less like the digits the model learned.

- `nearest_digits`: the squared distance of an image's penultimate activations, scaled to unit length,
  to its `NEIGHBOUR_RANK`-th nearest training digit's (Sun et al., 2022, "Out-of-Distribution
  Detection with Deep Nearest Neighbors"), in a 50-dimensional PCA of the training digits' unit
  vectors; the best of the four on bench/not_a_digit.py;
- `mahalanobis`: the distance of an image's penultimate activations to the nearest class mean,
  under the covariance the classes share (Lee et al., 2018, "A Simple Unified Framework for
  Detecting Out-of-Distribution Samples and Adversarial Attacks");
- `energy`: `-logsumexp(logits)` (Liu et al., 2020, "Energy-based Out-of-distribution Detection");
- `uncertainty`: one minus the largest softmax probability (Hendrycks & Gimpel, 2017);
- `pixel_distance`: the squared distance of the 28x28 input itself to the nearest training digit, in a
  50-dimensional PCA of the training digits' pixels (needs no model: a letter "M" is shaped unlike any digit);
- `pooled_residual`: the share of a conv model's pooled features (its last pooling layer) that a
  50-dimensional PCA of the training digits' pooled features leaves unexplained (stroke patterns digits lack).

`core.novelty.combined_score` adds four of them up, each in units of the spread of real digits' values.
"""

from __future__ import annotations

import numpy as np

SIGNALS = ("nearest_digits", "mahalanobis", "energy", "uncertainty", "pixel_distance", "pooled_residual")
NEIGHBOUR_RANK = 10  # the k of the k-th nearest training digit (Sun et al., 2022, used k = 50 of 50,000: 1 in 1,000)
CHUNK = 1024  # images per distance matrix: 1,024 x 10,000 float32 is 40 MB


def class_distances(whitened: np.ndarray, whitened_means: np.ndarray) -> np.ndarray:
    """Euclidean distances between whitened features and whitened class means.

    Args:
        whitened: float32 `(n, d)`, features times the whitening matrix.
        whitened_means: float32 `(classes, d)`, class means times the same matrix.

    Returns:
        float32 `(n, classes)`: the Mahalanobis distance of each image to each class.
    """
    whitened, whitened_means = np.asarray(whitened, np.float64), np.asarray(whitened_means, np.float64)  # no cancellation
    squared = ((whitened ** 2).sum(axis=1, keepdims=True) - 2.0 * whitened @ whitened_means.T
               + (whitened_means ** 2).sum(axis=1)[None, :])
    return np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero), float32."""
    features = np.asarray(features, dtype=np.float32)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-6)


def kth_nearest(projected: np.ndarray, points: np.ndarray, rank: int, point_norms: np.ndarray | None = None) -> np.ndarray:
    """The squared distance of each row of `projected` `(n, k)` to its `rank`-th nearest row of `points` `(m, k)`.

    `point_norms`, the points' squared lengths `(m,)`, saves computing them on every call (a drawing's check).
    """
    projected, points = np.asarray(projected, dtype=np.float32), np.asarray(points, dtype=np.float32)
    point_norms = (points ** 2).sum(axis=1) if point_norms is None else point_norms
    rank = min(rank, len(points))
    found = []
    for start in range(0, len(projected), CHUNK):
        chunk = projected[start:start + CHUNK]
        squared = (chunk ** 2).sum(axis=1, keepdims=True) - 2.0 * chunk @ points.T + point_norms[None, :]
        found.append(np.partition(squared, rank - 1, axis=1)[:, rank - 1])
    return np.maximum(np.concatenate(found) if found else np.zeros(0, np.float32), 0.0).astype(np.float32)


def nearest_digits(features: np.ndarray, mean: np.ndarray, basis: np.ndarray, points: np.ndarray,
                   rank: int = NEIGHBOUR_RANK, point_norms: np.ndarray | None = None) -> np.ndarray:
    """The squared distance to the `rank`-th nearest training digit, float32 `(n,)`.

    Args:
        features: float `(n, d)` penultimate activations.
        mean, basis: float32 `(d,)` and `(d, k)`: the PCA of the training digits' unit vectors.
        points: `(m, k)`: the training digits in that PCA space.
        rank: which neighbour, 1 = the nearest.
        point_norms: the points' squared lengths, when already known.
    """
    return kth_nearest((unit_rows(features) - mean) @ basis, points, rank, point_norms)


def pixel_distance(images: np.ndarray, mean: np.ndarray, basis: np.ndarray, points: np.ndarray,
                   point_norms: np.ndarray | None = None) -> np.ndarray:
    """The squared distance of each image to the nearest training digit in a PCA of pixels, float32 `(n,)`.

    Args:
        images: float `(n, 28, 28)` (or `(n, 28, 28, 1)`, `(n, 784)`) model inputs in `[0, 1]`.
        mean, basis: float32 `(784,)` and `(784, k)`: the PCA of the training digits' pixels.
        points: `(m, k)`: the training digits in that PCA space.
        point_norms: the points' squared lengths, when already known.
    """
    pixels = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    return kth_nearest((pixels - mean) @ basis, points, 1, point_norms)


def pooled_residual(pooled: np.ndarray, mean: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """The share of each row's squared length that a PCA of training digits' pooled features misses, float32 `(n,)`.

    Args:
        pooled: float `(n, p)` pooled conv features.
        mean, basis: float32 `(p,)` and `(p, k)` with orthonormal columns: the PCA.
    """
    centred = np.asarray(pooled, dtype=np.float32) - mean
    residual = centred - (centred @ basis) @ basis.T
    return ((residual ** 2).sum(axis=1) / np.maximum((np.asarray(pooled, np.float32) ** 2).sum(axis=1), 1e-6)).astype(np.float32)


def mahalanobis(features: np.ndarray, whitening: np.ndarray, whitened_means: np.ndarray) -> np.ndarray:
    """The Mahalanobis distance of each image's features to the nearest class mean, float32 `(n,)`."""
    whitened = np.asarray(features, dtype=np.float32) @ whitening
    return class_distances(whitened, whitened_means).min(axis=1)


def energy(logits: np.ndarray) -> np.ndarray:
    """`-logsumexp(logits)` per image, float32 `(n,)`: low for inputs the model scores confidently."""
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.max(axis=1)
    return (-(top + np.log(np.exp(logits - top[:, None]).sum(axis=1)))).astype(np.float32)


def uncertainty(logits: np.ndarray) -> np.ndarray:
    """One minus the largest softmax probability per image, float32 `(n,)`."""
    logits = np.asarray(logits, dtype=np.float64)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (1.0 - exp.max(axis=1) / exp.sum(axis=1)).astype(np.float32)


def auroc(digit_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """The area under the ROC curve of telling `other_scores` (positives) from `digit_scores` by size.

    The probability that a random non-digit scores above a random digit, ties counted half
    (the Mann-Whitney statistic).
    """
    digits, others = np.asarray(digit_scores, np.float64), np.asarray(other_scores, np.float64)
    scores = np.concatenate([digits, others])
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # 1-based ranks, ties given their mean
    other_ranks = ranks[len(digits):].sum()
    return float((other_ranks - len(others) * (len(others) + 1) / 2) / (len(others) * len(digits)))
