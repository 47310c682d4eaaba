"""A model's statistics of real digits, and the verdict on one drawing: a digit, or not a digit.

The statistics are what each signal of `core.novelty.signals` needs: the training digits' penultimate
activations scaled to unit length, in a 50-dimensional PCA of them (`nearest_digits`); the class means
of those activations and the covariance the classes share (`mahalanobis`: class-centred, shrunk a
little towards its mean variance so that units that never fire on digits keep a finite, small
variance); a 50-dimensional PCA of the training digits' pixels and the digits in it
(`pixel_distance`); a PCA of their pooled conv features (`pooled_residual`, conv models only). The
default signal, `combined` (`core.novelty.combined_score`), adds four of them up, each scaled by the
spread of real digits' values. The threshold is chosen on data: the `quantile` of the score over
digits the model did not train on (a sample of the test set), so about `1 - quantile` of real digits
are called "not a digit". Statistics may also hold an outlier detector (`core.novelty.outlier_detector`),
fitted for the shipped model on synthetic non-digits (`bench/fit_outlier_detector.py`); its signal,
`outlier_detector`, is then the one the threshold is for.

Saved with a run as `novelty.npz` (uncompressed, read with `allow_pickle=False`):

    meta              a 0-d string array holding JSON: {"format": "mnist-lab-novelty", "version": 3,
                      "signal": "combined", "threshold": ..., "quantile": 0.985, "digits_fitted": ...,
                      "digits_thresholded": ..., "feature_size": d, "scales": {component: [median, spread]},
                      "detector": {"parts": [component, ...], "fitted_on": "..."} (only with a detector)}
    whitening         float32 `(d, d)`: features times it are distances in the shared covariance's units
    whitened_means    float32 `(10, d)`: the class means times the same matrix
    unit_mean         float32 `(d,)`, unit_basis float32 `(d, 50)`: the PCA of the training digits' unit vectors
    unit_points       float16 `(m, 50)`: the training digits in that PCA (their nearest are the `nearest_digits` signal)
    pixel_mean        float32 `(784,)`, pixel_basis float32 `(784, 50)`, pixel_points float16 `(m, 50)`: the same for pixels
    pooled_mean       float32 `(p,)`, pooled_basis float32 `(p, 50)`: the PCA of pooled conv features (conv models only)
    detector_*        float32: the outlier detector's arrays (`OutlierDetector.arrays`), where it has one

Version 1 files (runs from before the combined score) hold the first five arrays and the signal
`nearest_digits`; they still load and judge with it, and say so (`Verdict.older_statistics`). Version 2
files (before the outlier detector) are version 3 files without one: they load and judge with the combined score.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from core.data.mnist import NUM_CLASSES
from core.novelty.combined_score import COMPONENT_WORDS, COMPONENTS, combined, contributions, fit_scales
from core.novelty.ink_statistics import INK_STATISTICS
from core.novelty.outlier_detector import OutlierDetector, detector_inputs
from core.novelty.signals import (
    SIGNALS, class_distances, energy, mahalanobis, nearest_digits, pixel_distance, pooled_residual, uncertainty, unit_rows,
)

FORMAT = "mnist-lab-novelty"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)  # 1: before the combined score (nearest_digits alone, no pixel or pooled PCA); 2: no detector
COMBINED_VERSION = 2  # the first version with the combined score's parts
NOVELTY_FILE = "novelty.npz"  # in a run folder; `mnist_fast.novelty.npz` beside the shipped model
DETECTOR_SIGNAL = "outlier_detector"
STATISTICS_SIGNALS = SIGNALS + ("combined", DETECTOR_SIGNAL)
DEFAULT_SIGNAL = "combined"  # the best on bench/not_a_digit.py's tuning set and its reported set (bench/results/not_a_digit.txt)
NEIGHBOUR_COMPONENTS = 50  # the PCA the nearest training digits are found in (1 MB of float16 for 10,000 digits)
# of held-out digits' scores: ~1.5% of real digits are flagged, so that digits the threshold was not chosen on stay
# under the 2% (the binomial spread of a 98% quantile of 5,000 digits is +-0.2 points)
DEFAULT_QUANTILE = 0.985
# With a detector, the combined score still flags what lies beyond this quantile of held-out digits' combined scores:
# a backstop for shapes unlike the synthetic non-digits the detector learnt (a zigzag the detector passed as a 3);
# on the shipped model it adds 0.0-0.2 points of digits flagged (bench/results/not_a_digit.txt)
BACKSTOP_QUANTILE = 0.997
SHRINKAGE = 0.01  # of the covariance moved to its mean variance: dead units get a small, finite variance
SIGNAL_WORDS = {
    "nearest_digits": "distance to the 10th nearest training digit",
    "mahalanobis": "distance from the digits the model learned",
    "energy": "energy score",
    "uncertainty": "uncertainty (1 − top probability)",
    "pixel_distance": "pixel distance to the nearest training digit",
    "pooled_residual": "share of its conv features unlike digits'",
    "combined": "unlikeness to real digits",
    DETECTOR_SIGNAL: "unlikeness to digits, by a detector trained on letters and scribbles",
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
        quantile: the share of held-out real digits under `threshold`.
        parts: for the `combined` signal, each component's contribution to `score`; for a detector with a
            backstop, each component's contribution to the backstop's combined score (else empty).
        older_statistics: True for statistics saved before the combined score (format version 1).
        backstop: with a detector, `(combined score, its threshold, its quantile)`: the combined score flags too
            (`BACKSTOP_QUANTILE`); None otherwise.
    """

    is_digit: bool
    score: float
    threshold: float
    signal: str
    nearest_class: int
    quantile: float = DEFAULT_QUANTILE
    parts: tuple[tuple[str, float], ...] = ()
    older_statistics: bool = False
    backstop: tuple[float, float, float] | None = None

    @property
    def flagged_by_backstop(self) -> bool:
        """True when only the combined score's backstop (not `signal`) says it is not a digit."""
        return self.backstop is not None and self.score <= self.threshold and self.backstop[0] > self.backstop[1]

    @property
    def main_reason(self) -> str | None:
        """In words, the component that added most to a combined score; None for another signal."""
        if not self.parts:
            return None
        return COMPONENT_WORDS[max(self.parts, key=lambda part: part[1])[0]]

    @property
    def words(self) -> str:
        """The verdict in one sentence, with the score that says why."""
        name = SIGNAL_WORDS[self.signal]
        if self.is_digit:
            scale = " (1 = as unlike digits as the 1-in-100 real digit, on each of its signals)" if self.signal == "combined" and self.parts else ""
            return f"Looks like a digit: {name} {self.score:.3g}, under the threshold {self.threshold:.3g}{scale}."
        reason = f"; mostly because {self.main_reason}" if self.parts else ""
        if self.flagged_by_backstop:
            combined_score, threshold, quantile = self.backstop
            return (f"That does not look like a digit: {SIGNAL_WORDS['combined']} {combined_score:.3g}, above the threshold "
                    f"{threshold:.3g} that {quantile * 100:g}% of real test digits stay under{reason} ({name} "
                    f"{self.score:.3g}, under its threshold {self.threshold:.3g}).")
        if self.signal != "combined":  # a detector weighs the parts together: no one part "added most"
            reason = ""
        return (f"That does not look like a digit: {name} {self.score:.3g}, above the threshold {self.threshold:.3g} "
                f"that {self.quantile * 100:g}% of real test digits stay under{reason}.")


@dataclass(frozen=True)
class DigitStatistics:
    """A model's statistics of real digits (see the module docstring) and its threshold.

    Attributes:
        whitening: float32 `(d, d)`; `features @ whitening` measures distances in units of the covariance.
        whitened_means: float32 `(10, d)`: the class means times `whitening`.
        unit_mean, unit_basis, unit_points: the training digits' unit vectors in a PCA of them (`nearest_digits`).
        signal: the signal the threshold is for (one of `STATISTICS_SIGNALS`).
        threshold: scores above it are "not a digit".
        quantile: the share of held-out digits scoring at most `threshold`.
        digits_fitted: training digits the means and covariance came from.
        digits_thresholded: held-out digits the threshold came from.
        pixel_mean, pixel_basis, pixel_points: the training digits' pixels in a PCA of them (`pixel_distance`);
            None in version 1 files.
        pooled_mean, pooled_basis: the PCA of their pooled conv features (`pooled_residual`); None for a
            model without a pooling layer, and in version 1 files.
        scales: the combined score's component → `(median, spread)` (`core.novelty.combined_score`); empty in
            version 1 files.
        version: the file format version the statistics were made in.
        detector: the outlier detector (`core.novelty.outlier_detector`), or None (a run's statistics, older files).
        detector_parts: the combined score's components the detector reads, in its inputs' order.
        detector_fitted_on: in words, what the detector was fitted on (printed by the bench).
        backstop_threshold, backstop_quantile: with a detector, the combined score's threshold at `backstop_quantile`
            of the held-out digits: above it a drawing is not a digit either; None without (or in an older file).
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
    pixel_mean: np.ndarray | None = None
    pixel_basis: np.ndarray | None = None
    pixel_points: np.ndarray | None = None
    pooled_mean: np.ndarray | None = None
    pooled_basis: np.ndarray | None = None
    scales: dict = field(default_factory=dict)
    version: int = FORMAT_VERSION
    detector: OutlierDetector | None = None
    detector_parts: tuple[str, ...] = ()
    detector_fitted_on: str = ""
    backstop_threshold: float | None = None
    backstop_quantile: float = BACKSTOP_QUANTILE

    @property
    def feature_size(self) -> int:
        return int(self.whitening.shape[0])

    def _squared_lengths(self, name: str) -> np.ndarray:
        """The squared lengths of the points in `name`, computed once (Draw checks a drawing at every stroke)."""
        cache = self.__dict__.setdefault("_lengths", {})  # not a field: frozen, and not compared or saved
        if name not in cache:
            cache[name] = (np.asarray(getattr(self, name), np.float32) ** 2).sum(axis=1)
        return cache[name]

    @property
    def needs_pooled(self) -> bool:
        """Whether the signal reads the model's pooled conv features (pass `pooled=` to `scores` and `judge`)."""
        return self.signal == "pooled_residual" or (
            self.signal in ("combined", DETECTOR_SIGNAL) and "pooled_residual" in self.scales)

    def scores(self, features: np.ndarray, logits: np.ndarray, signal: str | None = None, images: np.ndarray | None = None,
               pooled: np.ndarray | None = None) -> np.ndarray:
        """A signal for each image, float32 `(n,)` (larger = less like a digit).

        Args:
            features: float32 `(n, d)` penultimate activations.
            logits: float32 `(n, 10)`.
            signal: which signal; None = the one the threshold is for.
            images: float32 `(n, 28, 28)` model inputs: needed by `pixel_distance` and `combined`.
            pooled: float32 `(n, p)` pooled conv features (`core.models.penultimate`): needed by
                `pooled_residual`, and by `combined` for a conv model.

        Raises:
            ValueError: for an unknown signal, or one these statistics or the arguments lack the parts of.
        """
        signal = signal or self.signal
        if signal == DETECTOR_SIGNAL:
            return self.detector_scores(features, logits, images, pooled)
        if signal == "combined":
            return combined(self.contributions(features, logits, images, pooled))
        if signal == "nearest_digits":
            return nearest_digits(features, self.unit_mean, self.unit_basis, self.unit_points,
                                  point_norms=self._squared_lengths("unit_points"))
        if signal == "mahalanobis":
            return mahalanobis(features, self.whitening, self.whitened_means)
        if signal == "energy":
            return energy(logits)
        if signal == "uncertainty":
            return uncertainty(logits)
        if signal == "pixel_distance":
            if self.pixel_points is None:
                raise ValueError("These statistics have no pixel PCA (format version 1): compute them again.")
            if images is None:
                raise ValueError("The `pixel_distance` signal reads the images: pass `images=` (float32 (n, 28, 28)).")
            return pixel_distance(images, self.pixel_mean, self.pixel_basis, self.pixel_points,
                                  self._squared_lengths("pixel_points"))
        if signal == "pooled_residual":
            if self.pooled_basis is None:
                raise ValueError("These statistics have no pooled features (a model without a pooling layer, or format "
                                 "version 1): pick another signal.")
            if pooled is None:
                raise ValueError("The `pooled_residual` signal reads the pooled conv features: pass `pooled=` "
                                 "(from `numpy_features_and_logits(model, pooled=True)`).")
            return pooled_residual(pooled, self.pooled_mean, self.pooled_basis)
        raise ValueError(f"Received an invalid value for `signal`: {signal!r}. Pass one of {list(STATISTICS_SIGNALS)}.")

    def contributions(self, features: np.ndarray, logits: np.ndarray, images: np.ndarray | None = None,
                      pooled: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The combined score's components, each float32 `(n,)` in units of real digits' spread (see `scores`)."""
        if not self.scales:
            raise ValueError("These statistics have no combined score (format version 1): compute them again.")
        values = {component: self.scores(features, logits, component, images, pooled) for component in self.scales}
        return contributions(values, self.scales)

    def detector_scores(self, features: np.ndarray, logits: np.ndarray, images: np.ndarray | None = None,
                        pooled: np.ndarray | None = None) -> np.ndarray:
        """The outlier detector's score of each image, float32 `(n,)` (the arguments as for `scores`).

        Raises:
            ValueError: if these statistics have no detector, or `images` is missing.
        """
        return self._detector_scores_and_contributions(features, logits, images, pooled)[0]

    def _detector_scores_and_contributions(self, features: np.ndarray, logits: np.ndarray, images: np.ndarray | None,
                                           pooled: np.ndarray | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """`detector_scores` and the contributions it read (the backstop's combined score adds them up), computed once."""
        if self.detector is None:
            raise ValueError("These statistics have no outlier detector (a run's own, or from before it): pick another "
                             "signal.")
        if images is None:
            raise ValueError("The outlier detector reads the images: pass `images=` (float32 (n, 28, 28)).")
        found = self.contributions(features, logits, images, pooled)
        return self.detector.scores(_stacked_detector_inputs(found, self.detector_parts, features, images)), found

    def detector_inputs_for(self, features: np.ndarray, logits: np.ndarray, images: np.ndarray,
                            pooled: np.ndarray | None = None) -> np.ndarray:
        """What a detector for these statistics reads of each image (`core.novelty.outlier_detector.detector_inputs`,
        the contributions in these statistics' order), float32 `(n, k)`: what one is fitted on (the arguments as for
        `scores`)."""
        return _stacked_detector_inputs(self.contributions(features, logits, images, pooled), self.scales, features, images)

    def with_detector(self, detector: OutlierDetector, fitted_on: str, held_out_features: np.ndarray,
                      held_out_logits: np.ndarray, held_out_images: np.ndarray,
                      held_out_pooled: np.ndarray | None = None) -> DigitStatistics:
        """These statistics with `detector` as their signal, its threshold at `quantile` of the held-out digits' scores.

        Args:
            detector: fitted on `detector_inputs` whose parts are these statistics' components, in their order.
            fitted_on: in words, what it was fitted on (kept in the file).
            held_out_features, held_out_logits, held_out_images, held_out_pooled: the digits the model did not
                train on that the threshold is chosen on (the map's, as for `fit_digit_statistics`).

        Raises:
            ValueError: if the detector's inputs do not fit these statistics.
        """
        parts = tuple(self.scales)
        expected = len(parts) + self.feature_size + len(INK_STATISTICS)
        if detector.input_size != expected:
            raise ValueError(f"The detector reads {detector.input_size} inputs; these statistics give {expected} "
                             f"({len(parts)} contributions, {self.feature_size} features, {len(INK_STATISTICS)} ink "
                             "statistics). Fit it on `detector_inputs` of these statistics' contributions.")
        found = replace(self, detector=detector, detector_parts=parts, detector_fitted_on=fitted_on,
                        signal=DETECTOR_SIGNAL, version=FORMAT_VERSION)
        held_out_scores, held_out_parts = found._detector_scores_and_contributions(
            held_out_features, held_out_logits, held_out_images, held_out_pooled)
        return replace(found, threshold=float(np.quantile(held_out_scores, self.quantile)),
                       digits_thresholded=len(held_out_features),
                       backstop_threshold=float(np.quantile(combined(held_out_parts), self.backstop_quantile)))

    def judge(self, features: np.ndarray, logits: np.ndarray, image: np.ndarray | None = None,
              pooled: np.ndarray | None = None) -> Verdict:
        """The verdict on one image from its features `(d,)` or `(1, d)`, logits `(10,)` or `(1, 10)`, the image
        itself `(28, 28)` and its pooled features `(p,)` (the last two as the signal needs them, see `scores`)."""
        features = np.asarray(features, dtype=np.float32).reshape(1, -1)
        logits = np.asarray(logits, dtype=np.float32).reshape(1, -1)
        if features.shape[1] != self.feature_size:
            raise ValueError(f"`features` must have {self.feature_size} values, as the model these statistics are for. "
                             f"Received: features.shape={features.shape}")
        images = None if image is None else np.asarray(image, dtype=np.float32).reshape(1, 28, 28)
        pooled = None if pooled is None else np.asarray(pooled, dtype=np.float32).reshape(1, -1)
        if pooled is not None and self.pooled_basis is not None and pooled.shape[1] != len(self.pooled_basis):
            raise ValueError(f"`pooled` must have {len(self.pooled_basis)} values, as the model these statistics are for. "
                             f"Received: pooled.shape={pooled.shape}")
        found: dict[str, np.ndarray] = {}
        backstop = None
        if self.signal == "combined":
            found = self.contributions(features, logits, images, pooled)
            score = float(combined(found)[0])
        elif self.signal == DETECTOR_SIGNAL:
            scores, contributions_read = self._detector_scores_and_contributions(features, logits, images, pooled)
            score = float(scores[0])
            if self.backstop_threshold is not None:
                found = contributions_read
                backstop = (float(combined(found)[0]), self.backstop_threshold, self.backstop_quantile)
        else:
            score = float(self.scores(features, logits, images=images, pooled=pooled)[0])
        parts = tuple((component, float(values[0])) for component, values in found.items())
        nearest = int(class_distances(features @ self.whitening, self.whitened_means)[0].argmin())
        is_digit = score <= self.threshold and (backstop is None or backstop[0] <= backstop[1])
        return Verdict(is_digit=is_digit, score=score, threshold=self.threshold, signal=self.signal,
                       nearest_class=nearest, quantile=self.quantile, parts=parts,
                       older_statistics=self.version < COMBINED_VERSION, backstop=backstop)

    def flags(self, features: np.ndarray, logits: np.ndarray, images: np.ndarray | None = None,
              pooled: np.ndarray | None = None) -> np.ndarray:
        """Whether each image is called "not a digit", bool `(n,)` (the arguments as for `scores`): its signal above
        the threshold, or, with a detector, its combined score above the backstop's."""
        if self.signal != DETECTOR_SIGNAL:
            return self.scores(features, logits, images=images, pooled=pooled) > self.threshold
        scores, found = self._detector_scores_and_contributions(features, logits, images, pooled)
        flagged = scores > self.threshold
        if self.backstop_threshold is not None:
            flagged |= combined(found) > self.backstop_threshold
        return flagged

    def save(self, path: str | os.PathLike) -> None:
        """Write the statistics to a `.npz` file (see the module docstring), in the version they were made in."""
        meta = {"format": FORMAT, "version": self.version, "signal": self.signal, "threshold": self.threshold,
                "quantile": self.quantile, "digits_fitted": self.digits_fitted,
                "digits_thresholded": self.digits_thresholded, "feature_size": self.feature_size}
        arrays = {"whitening": self.whitening.astype(np.float32), "whitened_means": self.whitened_means.astype(np.float32),
                  "unit_mean": self.unit_mean.astype(np.float32), "unit_basis": self.unit_basis.astype(np.float32),
                  "unit_points": self.unit_points.astype(np.float16)}
        if self.version >= 2:
            meta["scales"] = {component: list(scale) for component, scale in self.scales.items()}
            arrays.update(pixel_mean=self.pixel_mean.astype(np.float32), pixel_basis=self.pixel_basis.astype(np.float32),
                          pixel_points=self.pixel_points.astype(np.float16))
            if self.pooled_basis is not None:
                arrays.update(pooled_mean=self.pooled_mean.astype(np.float32), pooled_basis=self.pooled_basis.astype(np.float32))
        if self.detector is not None:
            meta["detector"] = {"parts": list(self.detector_parts), "fitted_on": self.detector_fitted_on}
            if self.backstop_threshold is not None:
                meta["detector"]["backstop"] = {"threshold": self.backstop_threshold, "quantile": self.backstop_quantile}
            arrays.update(self.detector.arrays())
        with open(path, "wb") as file:
            np.savez(file, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DigitStatistics:
        """Read statistics written by `save`, in either format version.

        Raises:
            NoveltyFileError: if the file is not such statistics (the message says what is wrong).
            OSError: if it cannot be read.
        """
        arrays, meta = read_archive(path, FORMAT, READABLE_VERSIONS, NoveltyFileError)
        whitening, means = arrays.get("whitening"), arrays.get("whitened_means")
        unit_mean, unit_basis, unit_points = arrays.get("unit_mean"), arrays.get("unit_basis"), arrays.get("unit_points")
        size = meta.get("feature_size")
        if (any(array is None for array in (whitening, means, unit_mean, unit_basis, unit_points))
                or whitening.dtype != np.float32 or means.dtype != np.float32
                or whitening.shape != (size, size) or means.shape != (NUM_CLASSES, size) or unit_mean.shape != (size,)
                or unit_basis.ndim != 2 or unit_basis.shape[0] != size or unit_points.ndim != 2
                or unit_points.shape[1] != unit_basis.shape[1] or len(unit_points) == 0):
            raise NoveltyFileError(f"its arrays do not fit a {size}-feature model")
        if meta.get("signal") not in STATISTICS_SIGNALS or not isinstance(meta.get("threshold"), (int, float)):
            raise NoveltyFileError("its signal or threshold is missing")
        extra = {}
        if meta["version"] >= COMBINED_VERSION:
            extra = _read_version_2_parts(arrays, meta)
            extra.update(_read_detector(arrays, meta, extra["scales"], size))
        elif meta["signal"] not in ("nearest_digits", "mahalanobis", "energy", "uncertainty"):
            raise NoveltyFileError(f"its signal {meta['signal']!r} needs parts a version 1 file does not hold")
        return cls(whitening=whitening, whitened_means=means, unit_mean=unit_mean, unit_basis=unit_basis,
                   unit_points=unit_points.astype(np.float32), signal=meta["signal"], threshold=float(meta["threshold"]),
                   quantile=float(meta.get("quantile", DEFAULT_QUANTILE)), digits_fitted=int(meta.get("digits_fitted", 0)),
                   digits_thresholded=int(meta.get("digits_thresholded", 0)), version=int(meta["version"]), **extra)


def _stacked_detector_inputs(found: dict[str, np.ndarray], components, features: np.ndarray,
                             images: np.ndarray) -> np.ndarray:
    """`detector_inputs` of the contributions `found`, stacked in the order of `components`."""
    return detector_inputs(np.stack([found[component] for component in components], axis=1), features, images)


def _read_version_2_parts(arrays: dict[str, np.ndarray], meta: dict) -> dict:
    """The pixel and pooled PCAs and the combined score's scales of a version 2 file, checked."""
    pixel_mean, pixel_basis, pixel_points = arrays.get("pixel_mean"), arrays.get("pixel_basis"), arrays.get("pixel_points")
    if (any(array is None for array in (pixel_mean, pixel_basis, pixel_points)) or pixel_mean.shape != (784,)
            or pixel_basis.ndim != 2 or pixel_basis.shape[0] != 784 or pixel_points.ndim != 2
            or pixel_points.shape[1] != pixel_basis.shape[1] or len(pixel_points) == 0):
        raise NoveltyFileError("its pixel PCA is missing or does not fit 28x28 images")
    pooled_mean, pooled_basis = arrays.get("pooled_mean"), arrays.get("pooled_basis")
    if (pooled_mean is None) != (pooled_basis is None) or (pooled_basis is not None and (
            pooled_basis.ndim != 2 or pooled_mean.shape != (pooled_basis.shape[0],))):
        raise NoveltyFileError("its pooled features' PCA is incomplete")
    scales = meta.get("scales")
    if (not isinstance(scales, dict) or any(component not in COMPONENTS for component in scales)
            or any(not isinstance(scale, list) or len(scale) != 2 or not all(isinstance(v, (int, float)) for v in scale)
                   or not scale[1] > 0 for scale in scales.values())
            or ("pooled_residual" in scales) != (pooled_basis is not None) or (meta.get("signal") == "combined" and not scales)):
        raise NoveltyFileError("its combined score's scales are missing or do not fit its parts")
    return {"pixel_mean": pixel_mean, "pixel_basis": pixel_basis, "pixel_points": pixel_points.astype(np.float32), "pooled_mean": pooled_mean,
            "pooled_basis": pooled_basis, "scales": {component: (float(m), float(s)) for component, (m, s) in scales.items()}}


def _read_detector(arrays: dict[str, np.ndarray], meta: dict, scales: dict, feature_size: int) -> dict:
    """The outlier detector of a version 3 file and the parts it reads, checked; {} for a file without one."""
    about = meta.get("detector")
    if about is None:
        if meta.get("signal") == DETECTOR_SIGNAL:
            raise NoveltyFileError(f"its signal is {DETECTOR_SIGNAL!r} but it holds no detector")
        return {}
    if (not isinstance(about, dict) or not isinstance(about.get("parts"), list)
            or any(part not in scales for part in about["parts"]) or not isinstance(about.get("fitted_on", ""), str)):
        raise NoveltyFileError("its outlier detector's description is missing or names parts it does not hold")
    try:
        detector = OutlierDetector.from_arrays(arrays)
    except ValueError as problem:
        raise NoveltyFileError(str(problem)) from None
    if detector.input_size != len(about["parts"]) + feature_size + len(INK_STATISTICS):
        raise NoveltyFileError("its outlier detector does not fit its model's features")
    backstop = about.get("backstop")  # None in a file from before the backstop: the detector alone judges
    if backstop is not None and (not isinstance(backstop, dict) or not all(
            isinstance(backstop.get(key), (int, float)) for key in ("threshold", "quantile"))):
        raise NoveltyFileError("its combined score's backstop threshold is damaged")
    return {"detector": detector, "detector_parts": tuple(about["parts"]), "detector_fitted_on": about.get("fitted_on", ""),
            **({} if backstop is None else {"backstop_threshold": float(backstop["threshold"]),
                                             "backstop_quantile": float(backstop["quantile"])})}


def read_archive(path: str | os.PathLike, file_format: str, version: int | tuple[int, ...],
                 error: type[Exception]) -> tuple[dict[str, np.ndarray], dict]:
    """A feature file's arrays (read without pickle) and its checked JSON `meta` (`read_meta`).

    Raises:
        error: if the file is not a readable `.npz`, or its meta is not `file_format` at `version`.
        OSError: if it cannot be read.
    """
    try:
        with np.load(Path(path), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, EOFError, KeyError, zipfile.BadZipFile) as problem:
        raise error(f"{Path(path).name} is not a readable .npz file ({problem})") from None
    return arrays, read_meta(arrays, file_format, version, error)


def read_meta(arrays: dict[str, np.ndarray], file_format: str, version: int | tuple[int, ...],
              error: type[Exception]) -> dict:
    """The JSON `meta` of a file's arrays, checked for its format and version (or one of the versions given)."""
    meta = arrays.get("meta")
    if meta is None or meta.dtype.kind != "U" or meta.ndim != 0:
        raise error("it has no 'meta' text")
    try:
        meta = json.loads(str(meta))
    except ValueError:
        raise error("its 'meta' text is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != file_format:
        raise error(f"it is not a {file_format} file")
    versions = version if isinstance(version, tuple) else (version,)
    if meta.get("version") not in versions or isinstance(meta.get("version"), bool):
        readable = " or ".join(str(number) for number in versions)
        raise error(f"it has format version {meta.get('version')!r}; this code reads version {readable}")
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


def _as_saved(points: np.ndarray) -> np.ndarray:
    """Points as the file keeps them (float16, 1 MB for 10,000 digits), held as float32 for fast distances."""
    return np.asarray(points).astype(np.float16).astype(np.float32)


def pca_basis(rows: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the `components` leading principal directions of `rows` `(n, d)`: float32 `(d,)` and `(d, k)`.

    From the eigenvectors of the `(d, d)` covariance (a 784-pixel PCA of 10,000 digits in well under a second).
    """
    rows = np.asarray(rows, dtype=np.float64)
    mean = rows.mean(axis=0)
    centred = rows - mean
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1][:min(components, rows.shape[1])]
    return mean.astype(np.float32), eigenvectors[:, order].astype(np.float32)


def fit_digit_statistics(train_features: np.ndarray, train_labels: np.ndarray, held_out_features: np.ndarray,
                         held_out_logits: np.ndarray, signal: str = DEFAULT_SIGNAL, quantile: float = DEFAULT_QUANTILE,
                         train_images: np.ndarray | None = None, held_out_images: np.ndarray | None = None,
                         train_pooled: np.ndarray | None = None, held_out_pooled: np.ndarray | None = None) -> DigitStatistics:
    """Fit the statistics on training digits, and the combined score's scales and the threshold on held-out digits.

    Args:
        train_features: float `(n, d)` penultimate activations of training digits.
        train_labels: int `(n,)` their labels (all ten digits present).
        held_out_features: float `(m, d)` activations of digits the model did not train on.
        held_out_logits: float `(m, 10)` their logits.
        signal: the signal the threshold is for, one of `STATISTICS_SIGNALS`.
        quantile: the share of held-out digits to call digits, in `(0, 1)`.
        train_images, held_out_images: float `(n, 28, 28)` and `(m, 28, 28)`: the same digits as model inputs
            (the pixel PCA; needed by the `combined` and `pixel_distance` signals).
        train_pooled, held_out_pooled: float `(n, p)` and `(m, p)`: their pooled conv features, or None for a
            model without a pooling layer (the combined score then adds up three signals).

    Returns:
        The `DigitStatistics`, in the current format version.

    Raises:
        ValueError: for an unknown signal, a quantile outside `(0, 1)`, no held-out digits, a missing class, or
            images or pooled features the signal needs missing or not matching the digits.
    """
    if signal not in STATISTICS_SIGNALS or signal == DETECTOR_SIGNAL:
        fitted = [name for name in STATISTICS_SIGNALS if name != DETECTOR_SIGNAL]
        raise ValueError(f"Received an invalid value for `signal`: {signal!r}. Pass one of {fitted} (the outlier "
                         "detector is added to fitted statistics by `DigitStatistics.with_detector`).")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"Received an invalid value for `quantile`, expected a value in (0, 1). Received: quantile={quantile}")
    if len(held_out_features) == 0:
        raise ValueError("`held_out_features` is empty: the threshold needs digits the model did not train on.")
    if train_images is None or held_out_images is None:
        raise ValueError("Pass `train_images` and `held_out_images` (the digits as 28x28 model inputs): the pixel PCA "
                         "the combined score needs is fitted on them.")
    if len(train_images) != len(train_features) or len(held_out_images) != len(held_out_features):
        raise ValueError(f"The images must be the digits of the features: received {len(train_images)} and "
                         f"{len(held_out_images)} images for {len(train_features)} and {len(held_out_features)} digits.")
    if (train_pooled is None) != (held_out_pooled is None):
        raise ValueError("Pass both `train_pooled` and `held_out_pooled`, or neither (a model without a pooling layer).")
    whitening, means = shared_whitening(train_features, train_labels)
    units = unit_rows(train_features)
    unit_mean, unit_basis = pca_basis(units, NEIGHBOUR_COMPONENTS)
    pixels = np.asarray(train_images, dtype=np.float32).reshape(len(train_images), -1)
    pixel_mean, pixel_basis = pca_basis(pixels, NEIGHBOUR_COMPONENTS)
    pooled_mean, pooled_basis = pca_basis(train_pooled, NEIGHBOUR_COMPONENTS) if train_pooled is not None else (None, None)
    statistics = DigitStatistics(
        whitening=whitening, whitened_means=means @ whitening, unit_mean=unit_mean, unit_basis=unit_basis,
        unit_points=_as_saved((units - unit_mean) @ unit_basis), signal=signal, threshold=0.0, quantile=quantile,
        digits_fitted=len(train_features), digits_thresholded=len(held_out_features), pixel_mean=pixel_mean,
        pixel_basis=pixel_basis, pixel_points=_as_saved((pixels - pixel_mean) @ pixel_basis),
        pooled_mean=pooled_mean, pooled_basis=pooled_basis)
    components = [component for component in COMPONENTS if component != "pooled_residual" or pooled_basis is not None]
    values = {component: statistics.scores(held_out_features, held_out_logits, component, held_out_images, held_out_pooled)
              for component in components}
    statistics = replace(statistics, scales=fit_scales(values))
    if "pooled_residual" not in statistics.scales:  # no pooling layer, or pooled features that never vary
        statistics = replace(statistics, pooled_mean=None, pooled_basis=None)
    if signal == "combined":
        held_out_scores = combined(contributions(values, statistics.scales))
    else:
        held_out_scores = statistics.scores(held_out_features, held_out_logits, images=held_out_images, pooled=held_out_pooled)
    return replace(statistics, threshold=float(np.quantile(held_out_scores, quantile)))
