"""A model's statistics of real digits, and the verdict on one drawing: a digit, or not a digit.

The statistics are the training digits' penultimate activations scaled to unit length, in a 50-dimensional
PCA of them (the default signal, `nearest_digits`, is the distance to the 10th nearest), and the class means
of those activations and the covariance the classes share (class-centred, shrunk a little towards its mean variance so that
units that never fire on digits keep a finite, small variance). The threshold is chosen on data:
the `quantile` of the score over digits the model did not train on (a sample of the test set), so
about `1 - quantile` of real digits are called "not a digit".

Saved with a run as `novelty.npz` (uncompressed, read with `allow_pickle=False`):

    meta              a 0-d string array holding JSON: {"format": "mnist-lab-novelty", "version": 1,
                      "signal": "mahalanobis", "threshold": ..., "quantile": 0.99, "digits_fitted": ...,
                      "digits_thresholded": ..., "feature_size": d}
    whitening         float32 `(d, d)`: features times it are distances in the shared covariance's units
    whitened_means    float32 `(10, d)`: the class means times the same matrix
    unit_mean         float32 `(d,)`, unit_basis float32 `(d, 50)`: the PCA of the training digits' unit vectors
    unit_points       float16 `(m, 50)`: the training digits in that PCA (their nearest are the `nearest_digits` signal)
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.mnist import NUM_CLASSES
from core.novelty.signals import SIGNALS, class_distances, energy, mahalanobis, nearest_digits, uncertainty, unit_rows

FORMAT = "mnist-lab-novelty"
FORMAT_VERSION = 1
NOVELTY_FILE = "novelty.npz"  # in a run folder; `mnist_fast.novelty.npz` beside the shipped model
DEFAULT_SIGNAL = "nearest_digits"  # the best of the four on bench/not_a_digit.py (bench/results/not_a_digit.txt)
NEIGHBOUR_COMPONENTS = 50  # the PCA the nearest training digits are found in (1 MB of float16 for 10,000 digits)
DEFAULT_QUANTILE = 0.99  # of held-out digits' scores: ~1% of real digits are flagged
SHRINKAGE = 0.01  # of the covariance moved to its mean variance: dead units get a small, finite variance
SIGNAL_WORDS = {
    "nearest_digits": "distance to the 10th nearest training digit",
    "mahalanobis": "distance from the digits the model learned",
    "energy": "energy score",
    "uncertainty": "uncertainty (1 − top probability)",
}


class NoveltyFileError(ValueError):
    """A `novelty.npz` cannot be read: missing parts, wrong shapes, another format or version."""


@dataclass(frozen=True)
class Verdict:
    """What the check says about one image.

    Attributes:
        is_digit: False when `score` is above `threshold`.
        score: the image's signal (larger = less like a digit).
        threshold: the largest score still called a digit.
        signal: which signal `score` is (a key of `SIGNAL_WORDS`).
        nearest_class: the class whose mean the features are closest to.
    """

    is_digit: bool
    score: float
    threshold: float
    signal: str
    nearest_class: int

    @property
    def words(self) -> str:
        """The verdict in one sentence, with the score that says why."""
        name = SIGNAL_WORDS[self.signal]
        if self.is_digit:
            return f"Looks like a digit: {name} {self.score:.3g}, under the threshold {self.threshold:.3g}."
        return (f"That does not look like a digit: {name} {self.score:.3g}, above the threshold {self.threshold:.3g} "
                f"that 99% of real test digits stay under.")


@dataclass(frozen=True)
class DigitStatistics:
    """A model's class means, shared covariance (as a whitening matrix) and threshold.

    Attributes:
        whitening: float32 `(d, d)`; `features @ whitening` measures distances in units of the covariance.
        whitened_means: float32 `(10, d)`: the class means times `whitening`.
        unit_mean, unit_basis, unit_points: the training digits' unit vectors in a PCA of them (`nearest_digits`).
        signal: the signal the threshold is for (one of `core.novelty.signals.SIGNALS`).
        threshold: scores above it are "not a digit".
        quantile: the share of held-out digits scoring at most `threshold`.
        digits_fitted: training digits the means and covariance came from.
        digits_thresholded: held-out digits the threshold came from.
    """

    whitening: np.ndarray
    whitened_means: np.ndarray
    unit_mean: np.ndarray
    unit_basis: np.ndarray
    unit_points: np.ndarray
    signal: str
    threshold: float
    quantile: float
    digits_fitted: int
    digits_thresholded: int

    @property
    def feature_size(self) -> int:
        return int(self.whitening.shape[0])

    def scores(self, features: np.ndarray, logits: np.ndarray, signal: str | None = None) -> np.ndarray:
        """A signal for each image, float32 `(n,)` (larger = less like a digit).

        Args:
            features: float32 `(n, d)` penultimate activations.
            logits: float32 `(n, 10)`.
            signal: which signal; None = the one the threshold is for.
        """
        signal = signal or self.signal
        if signal == "nearest_digits":
            return nearest_digits(features, self.unit_mean, self.unit_basis, self.unit_points)
        if signal == "mahalanobis":
            return mahalanobis(features, self.whitening, self.whitened_means)
        if signal == "energy":
            return energy(logits)
        if signal == "uncertainty":
            return uncertainty(logits)
        raise ValueError(f"Received an invalid value for `signal`: {signal!r}. Pass one of {list(SIGNALS)}.")

    def judge(self, features: np.ndarray, logits: np.ndarray) -> Verdict:
        """The verdict on one image from its features `(d,)` or `(1, d)` and logits `(10,)` or `(1, 10)`."""
        features = np.asarray(features, dtype=np.float32).reshape(1, -1)
        logits = np.asarray(logits, dtype=np.float32).reshape(1, -1)
        if features.shape[1] != self.feature_size:
            raise ValueError(f"`features` must have {self.feature_size} values, as the model these statistics are for. "
                             f"Received: features.shape={features.shape}")
        score = float(self.scores(features, logits)[0])
        nearest = int(class_distances(features @ self.whitening, self.whitened_means)[0].argmin())
        return Verdict(is_digit=score <= self.threshold, score=score, threshold=self.threshold, signal=self.signal,
                       nearest_class=nearest)

    def save(self, path: str | os.PathLike) -> None:
        """Write the statistics to a `.npz` file (see the module docstring)."""
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "signal": self.signal, "threshold": self.threshold,
                "quantile": self.quantile, "digits_fitted": self.digits_fitted,
                "digits_thresholded": self.digits_thresholded, "feature_size": self.feature_size}
        with open(path, "wb") as file:
            np.savez(file, meta=np.array(json.dumps(meta)), whitening=self.whitening.astype(np.float32),
                     whitened_means=self.whitened_means.astype(np.float32), unit_mean=self.unit_mean.astype(np.float32),
                     unit_basis=self.unit_basis.astype(np.float32), unit_points=self.unit_points.astype(np.float16))

    @classmethod
    def load(cls, path: str | os.PathLike) -> DigitStatistics:
        """Read statistics written by `save`.

        Raises:
            NoveltyFileError: if the file is not such statistics (the message says what is wrong).
            OSError: if it cannot be read.
        """
        try:
            with np.load(Path(path), allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
            raise NoveltyFileError(f"{Path(path).name} is not a readable .npz file ({error})") from None
        meta = read_meta(arrays, FORMAT, FORMAT_VERSION, NoveltyFileError)
        whitening, means = arrays.get("whitening"), arrays.get("whitened_means")
        unit_mean, unit_basis, unit_points = arrays.get("unit_mean"), arrays.get("unit_basis"), arrays.get("unit_points")
        size = meta.get("feature_size")
        if (any(array is None for array in (whitening, means, unit_mean, unit_basis, unit_points))
                or whitening.dtype != np.float32 or means.dtype != np.float32
                or whitening.shape != (size, size) or means.shape != (NUM_CLASSES, size) or unit_mean.shape != (size,)
                or unit_basis.ndim != 2 or unit_basis.shape[0] != size or unit_points.ndim != 2
                or unit_points.shape[1] != unit_basis.shape[1] or len(unit_points) == 0):
            raise NoveltyFileError(f"its arrays do not fit a {size}-feature model")
        if meta.get("signal") not in SIGNALS or not isinstance(meta.get("threshold"), (int, float)):
            raise NoveltyFileError("its signal or threshold is missing")
        return cls(whitening=whitening, whitened_means=means, unit_mean=unit_mean, unit_basis=unit_basis,
                   unit_points=unit_points, signal=meta["signal"], threshold=float(meta["threshold"]),
                   quantile=float(meta.get("quantile", DEFAULT_QUANTILE)), digits_fitted=int(meta.get("digits_fitted", 0)),
                   digits_thresholded=int(meta.get("digits_thresholded", 0)))


def read_meta(arrays: dict[str, np.ndarray], file_format: str, version: int, error: type[Exception]) -> dict:
    """The JSON `meta` of a file's arrays, checked for its format and version."""
    meta = arrays.get("meta")
    if meta is None or meta.dtype.kind != "U" or meta.ndim != 0:
        raise error("it has no 'meta' text")
    try:
        meta = json.loads(str(meta))
    except ValueError:
        raise error("its 'meta' text is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != file_format:
        raise error(f"it is not a {file_format} file")
    if meta.get("version") != version:
        raise error(f"it has format version {meta.get('version')!r}; this code reads version {version}")
    return meta


def shared_whitening(features: np.ndarray, labels: np.ndarray, shrinkage: float = SHRINKAGE) -> tuple[np.ndarray, np.ndarray]:
    """The whitening matrix of the class-centred covariance, and the class means.

    Args:
        features: float `(n, d)` penultimate activations of digits.
        labels: int `(n,)` their classes, each of the 10 present.
        shrinkage: the share of the covariance moved to its mean variance times the identity.

    Returns:
        `(whitening, means)`: float32 `(d, d)` with `whitening @ whitening.T` the inverse of the
        shrunk covariance, and float32 `(10, d)`.

    Raises:
        ValueError: if a class has no example.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    missing = [digit for digit in range(NUM_CLASSES) if not np.any(labels == digit)]
    if missing:
        raise ValueError(f"`labels` must hold every digit to fit class means. Missing: {missing}. Pass more digits.")
    means = np.stack([features[labels == digit].mean(axis=0) for digit in range(NUM_CLASSES)])
    centred = features - means[labels]
    covariance = centred.T @ centred / len(features)
    mean_variance = max(float(np.trace(covariance)) / len(covariance), 1e-12)
    covariance = (1.0 - shrinkage) * covariance + shrinkage * mean_variance * np.eye(len(covariance))
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    whitening = eigenvectors / np.sqrt(np.maximum(eigenvalues, shrinkage * mean_variance * 1e-3))[None, :]
    return whitening.astype(np.float32), means.astype(np.float32)


def fit_digit_statistics(train_features: np.ndarray, train_labels: np.ndarray, held_out_features: np.ndarray,
                         held_out_logits: np.ndarray, signal: str = DEFAULT_SIGNAL,
                         quantile: float = DEFAULT_QUANTILE) -> DigitStatistics:
    """Fit class means and shared covariance on training digits, and the threshold on held-out digits.

    Args:
        train_features: float `(n, d)` penultimate activations of training digits.
        train_labels: int `(n,)` their labels (all ten digits present).
        held_out_features: float `(m, d)` activations of digits the model did not train on.
        held_out_logits: float `(m, 10)` their logits.
        signal: the signal the threshold is for, one of `SIGNALS`.
        quantile: the share of held-out digits to call digits, in `(0, 1)`.

    Returns:
        The `DigitStatistics`.

    Raises:
        ValueError: for an unknown signal, a quantile outside `(0, 1)`, no held-out digits, or a missing class.
    """
    if signal not in SIGNALS:
        raise ValueError(f"Received an invalid value for `signal`: {signal!r}. Pass one of {list(SIGNALS)}.")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"Received an invalid value for `quantile`, expected a value in (0, 1). Received: quantile={quantile}")
    if len(held_out_features) == 0:
        raise ValueError("`held_out_features` is empty: the threshold needs digits the model did not train on.")
    whitening, means = shared_whitening(train_features, train_labels)
    units = unit_rows(train_features)
    unit_mean = units.mean(axis=0)
    _, _, rows = np.linalg.svd(units - unit_mean, full_matrices=False)
    unit_basis = rows[:NEIGHBOUR_COMPONENTS].T.astype(np.float32)
    statistics = DigitStatistics(whitening=whitening, whitened_means=means @ whitening, unit_mean=unit_mean.astype(np.float32),
                                 unit_basis=unit_basis, unit_points=((units - unit_mean) @ unit_basis).astype(np.float16),
                                 signal=signal, threshold=0.0,
                                 quantile=quantile, digits_fitted=len(train_features), digits_thresholded=len(held_out_features))
    threshold = float(np.quantile(statistics.scores(held_out_features, held_out_logits), quantile))
    return DigitStatistics(**{**statistics.__dict__, "threshold": threshold})
