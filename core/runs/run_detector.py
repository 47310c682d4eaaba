"""A run's own outlier detector, fitted when its map is written, so "that is not a digit" works on the visitor's model.

The shipped model's detector (`bench/fit_outlier_detector.py`) is fitted on synthetic non-digits made with fonts
only that script installs. A run gets the same kind of detector from what ships with the lab and MNIST itself:

- `pretrained/detector_images.npz` (`DETECTOR_IMAGES_FILE`, written by `bench/write_detector_images.py`): synthetic
  images that are not made from MNIST: letters (Greek and Cyrillic in DejaVu, Latin but `I` and `l` in Pillow's,
  URW base35 and FreeFont fonts), scribbles and smudges as non-digits; 1s drawn as one straight stroke and digits
  printed in fonts as digits;
- from MNIST's training digits the statistics did not use (`core.novelty.drawn_images`): digits as they are,
  redrawn through Draw's preprocessing and traced with Draw's brush, and pairs of them side by side (non-digits).

The run's NumPy model gives their features (the worker's Keras model has gone on to the next job); the detector
(`core.novelty.outlier_detector`, as the shipped one but on about half as many images) is fitted on them, its threshold chosen at the statistics' quantile of the map digits, and `novelty.npz` rewritten with it,
atomically. Never fatal: a run without it judges with the combined score. `MNIST_LAB_RUN_DETECTOR=0` turns it off,
at runs' ends and in `python -m core embedding --run` (the test suite does, but for the tests of this feature).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.mnist import Mnist
from core.data.splits import to_model_input
from core.models.penultimate import FeaturesAndLogits, numpy_features_and_logits
from core.novelty.digit_statistics import NOVELTY_FILE, DigitStatistics
from core.novelty.drawn_images import digit_pairs, redrawn_digits, traced_digits
from core.novelty.outlier_detector import fit_outlier_detector
from core.runs.atomic_files import atomic_path
from core.runs.feature_files import sample_indices
from core.runs.pretrained import PRETRAINED_DIR
from core.runs.store import NUMPY_MODEL_FILE, load_numpy_model_file

DETECTOR_IMAGES_FILE = PRETRAINED_DIR / "detector_images.npz"
RUN_DETECTOR_ENV = "MNIST_LAB_RUN_DETECTOR"  # "0": runs fit no detector of their own
FROM_MNIST = {"raw": 2000, "redrawn": 1000, "traced": 1500, "pairs": 800}  # digits made from unused training digits
SEED = 7


def run_detector_enabled() -> bool:
    """False when `MNIST_LAB_RUN_DETECTOR` is `0`; True otherwise (the default)."""
    return os.environ.get(RUN_DETECTOR_ENV, "").strip() != "0"


@dataclass(frozen=True)
class DetectorImages:
    """The shipped synthetic images: float32 `(n, 28, 28)` non-digits and digits, and what they are, in words."""

    non_digits: np.ndarray
    digits: np.ndarray
    about: str

    @classmethod
    def load(cls, path: str | os.PathLike = DETECTOR_IMAGES_FILE) -> DetectorImages:
        """Read `bench/write_detector_images.py`'s file.

        Raises:
            FileNotFoundError: if there is none (the message names the script that writes it).
            ValueError: if it is not such a file.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: `python bench/write_detector_images.py` writes it.")
        try:
            with np.load(path, allow_pickle=False) as arrays:
                non_digits, digits = arrays["non_digits"], arrays["digits"]
                about = json.loads(str(arrays["meta"]))["about"]
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{path} is not a detector images file ({error}): write it again with "
                             "`python bench/write_detector_images.py`.") from None
        if non_digits.dtype != np.uint8 or digits.dtype != np.uint8 or non_digits.shape[1:] != (28, 28) \
                or digits.shape[1:] != (28, 28):
            raise ValueError(f"{path} does not hold uint8 (n, 28, 28) images: write it again with "
                             "`python bench/write_detector_images.py`.")
        return cls(non_digits=non_digits.astype(np.float32) / 255.0, digits=digits.astype(np.float32) / 255.0, about=about)


def fit_run_detector(statistics: DigitStatistics, features_and_logits: FeaturesAndLogits, mnist: Mnist, images: DetectorImages,
                     map_digits: int, from_mnist: dict[str, int] | None = None) -> DigitStatistics:
    """`statistics` with a detector fitted for their model (see the module docstring).

    Args:
        statistics: the run's digit statistics (a combined score, with the pooled features if the model has them).
        features_and_logits: the run's NumPy model's `(features, logits, pooled)` function (`pooled=True`).
        mnist: the dataset; map_digits: the map's test digits, which the threshold is chosen on (as for the statistics).
        images: the shipped synthetic images.
        from_mnist: how many of each kind to make from training digits (`FROM_MNIST`'s keys; default `FROM_MNIST`).

    Raises:
        ValueError: if the statistics have no combined score to read (format version 1).
    """
    if not statistics.scales:
        raise ValueError("These statistics have no combined score (format version 1): compute them again first.")
    counts = {**FROM_MNIST, **(from_mnist or {})}
    rng = np.random.default_rng(SEED)
    test, used = sample_indices(mnist, map_digits)
    unused = rng.permutation(np.setdiff1d(np.arange(len(mnist.y_train)), used))
    ends = np.cumsum([counts["raw"], counts["redrawn"], counts["traced"]])
    x = mnist.x_train
    digits = [to_model_input(x[unused[:ends[0]]])[..., 0], redrawn_digits(x[unused[ends[0]:ends[1]]]),
              traced_digits(x[unused[ends[1]:ends[2]]], rng), images.digits]
    non_digits = [images.non_digits, digit_pairs(counts["pairs"], x[unused[ends[2]:]], rng)]

    def inputs(batch: np.ndarray) -> np.ndarray:
        features, logits, pooled = features_and_logits(batch[..., None])
        return statistics.detector_inputs_for(features, logits, batch, pooled)

    detector = fit_outlier_detector(np.concatenate([inputs(batch) for batch in digits]),
                                    np.concatenate([inputs(batch) for batch in non_digits]),
                                    seed=SEED)
    map_images = to_model_input(mnist.x_test[test])
    features, logits, pooled = features_and_logits(map_images)
    fitted_on = (f"{images.about}; and {', '.join(f'{count:,} {kind}' for kind, count in counts.items())} made "
                 "from training digits the statistics did not use (pairs as non-digits)")
    return statistics.with_detector(detector, fitted_on, features, logits, map_images[..., 0], pooled)


def write_run_detector(folder: str | os.PathLike, mnist: Mnist, map_digits: int,
                       images_path: str | os.PathLike = DETECTOR_IMAGES_FILE, from_mnist: dict[str, int] | None = None) -> float:
    """Fit the run's detector in `folder` (its `model.numpy.npz` and `novelty.npz`) and rewrite `novelty.npz` with
    it, atomically; returns the seconds.

    Raises:
        RunError: if the run has no NumPy model; FileNotFoundError, ValueError: as `DetectorImages.load` and
        `fit_run_detector` (the run's files are left as they were).
    """
    started = time.perf_counter()
    folder = Path(folder)
    model = load_numpy_model_file(folder / NUMPY_MODEL_FILE, f"Run {folder.name!r}")
    statistics = DigitStatistics.load(folder / NOVELTY_FILE)
    updated = fit_run_detector(statistics, numpy_features_and_logits(model, pooled=True), mnist,
                               DetectorImages.load(images_path), map_digits, from_mnist)
    with atomic_path(folder / NOVELTY_FILE, suffix=".npz") as temporary:
        updated.save(temporary)
    return time.perf_counter() - started
