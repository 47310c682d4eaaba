"""A run's feature-space files: its embedding map and its digit statistics, computed when it ends or on request.

When a run has saved its model, the worker that trained it (it has TensorFlow, which computes the
features fastest) runs the model's penultimate layer on a seeded sample of 5,000 test digits and
10,000 training digits, and writes, each atomically:

- `embedding.npz` (`core.embedding.embedding_map`): the test digits' map, PCA and t-SNE;
- `novelty.npz` (`core.novelty.digit_statistics`): what the "not a digit" signals need from the
  training digits (features, pixels, pooled conv features), and the combined score's scales and its
  threshold from the test digits of the map.

A run saved before these files existed gets them from `python -m core embedding --run NAME`
(from its NumPy model, or its Keras model where it has none); `--statistics-only` writes
`novelty.npz` alone (a run whose statistics predate the combined score). `MNIST_LAB_EMBEDDING_DIGITS=0` turns
the computation at the end of runs off (the test suite does, but for the tests of this feature).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from core.data.mnist import Mnist
from core.data.splits import to_model_input
from core.embedding.embedding_map import EMBEDDING_FILE, MAP_DIGITS, EmbeddingFileError, EmbeddingMap, build_embedding_map
from core.models.numpy_model import NumpyModel
from core.models.penultimate import FeaturesAndLogits, keras_features_and_logits, numpy_features_and_logits
from core.novelty.digit_statistics import NOVELTY_FILE, DigitStatistics, NoveltyFileError, fit_digit_statistics
from core.runs.atomic_files import atomic_path
from core.runs.model_sources import ModelSource, open_source_model
from core.runs.store import RunError

EMBEDDING_DIGITS_ENV = "MNIST_LAB_EMBEDDING_DIGITS"  # test digits on the map a run computes when it ends; 0 = none
TRAIN_DIGITS = 10_000  # training digits the class means and covariance come from
MIN_MAP_DIGITS = 100  # fewer would leave a digit class without points, and the threshold's quantile unreliable
DEFAULT_METHOD = "tsne"  # openTSNE: measured against UMAP in bench/not_a_digit.py (see core.embedding.reducers)
SAMPLE_SEED = 0  # the same test digits on every run's map, so maps of two runs can be compared


def embedding_digits() -> int:
    """How many test digits a run's map holds when the run computes it as it ends (`$MNIST_LAB_EMBEDDING_DIGITS`).

    Returns:
        `MAP_DIGITS` (5,000) by default; 0 when set to 0 (no map and no digit statistics at the end of runs);
        otherwise the value set, between `MIN_MAP_DIGITS` and 10,000.

    Raises:
        ValueError: if the setting is not such a whole number (the message names it and the fix).
    """
    text = os.environ.get(EMBEDDING_DIGITS_ENV, "").strip()
    if not text:
        return MAP_DIGITS
    if not text.isdigit() or not (int(text) == 0 or MIN_MAP_DIGITS <= int(text) <= 10_000):
        raise ValueError(f"${EMBEDDING_DIGITS_ENV} must be 0 (no map) or a whole number from {MIN_MAP_DIGITS} to 10000. "
                         f"Received: {text[:40]!r}. Unset it for the default, {MAP_DIGITS}.")
    return int(text)


def sample_indices(mnist: Mnist, map_digits: int = MAP_DIGITS, train_digits: int = TRAIN_DIGITS,
                   seed: int = SAMPLE_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The seeded test digits of the map and training digits of the statistics, sorted, as int arrays."""
    rng = np.random.default_rng(seed)
    test = np.sort(rng.permutation(len(mnist.y_test))[: min(map_digits, len(mnist.y_test))])
    train = np.sort(rng.permutation(len(mnist.y_train))[: min(train_digits, len(mnist.y_train))])
    return test, train


def sample_images(mnist: Mnist, map_digits: int = MAP_DIGITS,
                  train_digits: int = TRAIN_DIGITS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`sample_indices`' digits and the model's input for them: the map's test digits, then the training digits."""
    test, train = sample_indices(mnist, map_digits, train_digits)
    return test, train, to_model_input(np.concatenate([mnist.x_test[test], mnist.x_train[train]]))


def write_digit_statistics(folder: str | os.PathLike, features_and_logits: FeaturesAndLogits, mnist: Mnist,
                           map_digits: int = MAP_DIGITS, train_digits: int = TRAIN_DIGITS, prefix: str = "",
                           computed: tuple | None = None) -> float:
    """Compute a model's digit statistics and write `novelty.npz` into `folder` atomically; returns the seconds.

    A file already there that holds an outlier detector (the shipped model's, fitted by
    `bench/fit_outlier_detector.py` on synthetic non-digits this cannot make) keeps it: the detector is carried
    into the new statistics and its threshold chosen again on the new map digits, where its inputs still fit them.

    Args:
        folder, mnist, map_digits, train_digits, prefix: as for `write_feature_files`.
        features_and_logits: the model's images → `(features, logits[, pooled])` function; with
            `pooled=True` (`core.models.penultimate`) the combined score adds the pooled conv features.
        computed: `(images, outputs)` already computed for the digits of `sample_indices` (the map's test
            digits, then the training digits), so `write_feature_files` runs the model once.
    """
    started = time.perf_counter()
    if computed is None:
        test, train, images = sample_images(mnist, map_digits, train_digits)
        computed = images, features_and_logits(images)
    else:
        test, train = sample_indices(mnist, map_digits, train_digits)
    images, outputs = computed
    features, logits = outputs[0], outputs[1]
    pooled = outputs[2] if len(outputs) > 2 else None
    count = len(test)
    statistics = fit_digit_statistics(
        features[count:], mnist.y_train[train], features[:count], logits[:count],
        train_images=images[count:, ..., 0], held_out_images=images[:count, ..., 0],
        train_pooled=None if pooled is None else pooled[count:], held_out_pooled=None if pooled is None else pooled[:count])
    path = Path(folder) / f"{prefix}{NOVELTY_FILE}"
    earlier = _earlier_detector(path)
    if earlier is not None:
        try:
            statistics = statistics.with_detector(earlier.detector, earlier.detector_fitted_on, features[:count],
                                                  logits[:count], images[:count, ..., 0],
                                                  None if pooled is None else pooled[:count])
        except ValueError:  # its inputs no longer fit (another model, no pooled features): the combined score judges
            pass
    with atomic_path(path, suffix=".npz") as temporary:
        statistics.save(temporary)
    return time.perf_counter() - started


def _earlier_detector(path: Path) -> DigitStatistics | None:
    """The statistics at `path` if they hold an outlier detector; None if not, or if there is no readable file."""
    try:
        earlier = DigitStatistics.load(path)
    except (OSError, NoveltyFileError):
        return None
    return earlier if earlier.detector is not None else None


def write_feature_files(folder: str | os.PathLike, features_and_logits: FeaturesAndLogits, mnist: Mnist,
                        map_digits: int = MAP_DIGITS, train_digits: int = TRAIN_DIGITS, method: str = DEFAULT_METHOD,
                        extra_meta: dict | None = None, prefix: str = "") -> dict[str, float]:
    """Compute a model's map and digit statistics and write them into `folder`, each file atomically.

    Args:
        folder: the run folder (or, for the shipped model, the folder its files go in).
        features_and_logits: the model's images → `(features, logits[, pooled])` function
            (`core.models.penultimate`; pass one made with `pooled=True` for the full "not a digit" check).
        mnist: the dataset.
        map_digits: test digits on the map (their scores also set the threshold).
        train_digits: training digits for the statistics.
        method: the map's nonlinear view, `"tsne"` (or `"umap"` where umap-learn is installed).
        extra_meta: more to record in the map's meta (e.g. the model's epoch).
        prefix: before the files' names (`"mnist_fast."` for the shipped model's).

    Returns:
        Seconds per step: `features`, `statistics`, `pca`, the method, and `total`.
    """
    folder = Path(folder)
    started = time.perf_counter()
    test, train, images = sample_images(mnist, map_digits, train_digits)
    outputs = features_and_logits(images)
    features, logits = outputs[0], outputs[1]
    test_features, train_features = features[: len(test)], features[len(test):]
    seconds = {"features": time.perf_counter() - started}

    seconds["statistics"] = write_digit_statistics(folder, features_and_logits, mnist, map_digits, train_digits, prefix,
                                                   computed=(images, outputs))

    embedding = build_embedding_map(test_features, mnist.y_test[test], logits[: len(test)].argmax(axis=1), test,
                                    train_features, mnist.y_train[train], train, method=method)
    seconds.update(embedding.meta["seconds"])
    seconds["total"] = time.perf_counter() - started
    meta = {**embedding.meta, **(extra_meta or {}), "seconds": {key: round(value, 3) for key, value in seconds.items()}}
    embedding = type(embedding)(**{**embedding.__dict__, "meta": meta})
    with atomic_path(folder / f"{prefix}{EMBEDDING_FILE}", suffix=".npz") as temporary:
        embedding.save(temporary)
    return seconds


def feature_prefix(source: ModelSource) -> str:
    """What goes before the files' names: `"mnist_fast."` for the shipped model, nothing in a run folder."""
    return f"{Path(source.path).stem}." if source.is_pretrained else ""


def feature_file(source: ModelSource, name: str) -> Path:
    """Where `source`'s map (`EMBEDDING_FILE`) or digit statistics (`NOVELTY_FILE`) lie.

    A run's lie in its folder; the shipped model's beside it, as `mnist_fast.embedding.npz` and
    `mnist_fast.novelty.npz`.
    """
    return Path(source.path).parent / f"{feature_prefix(source)}{name}"


def compute_command(source: ModelSource) -> str:
    """The command that computes `source`'s feature files."""
    return "python -m core embedding --pretrained" if source.is_pretrained else f"python -m core embedding --run {source.run_name}"


def _read(source: ModelSource, name: str, reader, what: str):
    path = feature_file(source, name)
    fix = f"Compute it with `{compute_command(source)}`."
    if path.is_symlink():
        raise RunError(f"{path.name} of {source.label} is a symbolic link, which is never followed. Delete it. {fix}")
    if not path.is_file():
        when = "" if source.is_pretrained else (" (a run computes it in the seconds after it ends: look again in a "
                                                "moment; a run from before maps existed, or whose map failed, has none)")
        raise RunError(f"{source.label} has no {what} yet{when}. {fix}")
    try:
        return reader(path)
    except (EmbeddingFileError, NoveltyFileError, OSError) as error:
        raise RunError(f"The {what} of {source.label} cannot be read ({error}). {fix}") from None


def read_embedding_map(source: ModelSource) -> EmbeddingMap:
    """`source`'s embedding map.

    Raises:
        RunError: if it has none, or the file cannot be read (the message gives the command that computes it).
    """
    return _read(source, EMBEDDING_FILE, EmbeddingMap.load, "embedding map")


def read_digit_statistics(source: ModelSource) -> DigitStatistics:
    """`source`'s digit statistics (class means, shared covariance, threshold).

    Raises:
        RunError: if it has none, or the file cannot be read (the message gives the command that computes it).
    """
    return _read(source, NOVELTY_FILE, DigitStatistics.load, "digit statistics")


def source_features_and_logits(source: ModelSource, pooled: bool = False) -> FeaturesAndLogits:
    """`source`'s model as an images → `(features, logits)` function: from its NumPy file when it has one, else Keras.

    With `pooled`, the function returns the pooled conv features (or None) third (`core.models.penultimate`).

    Raises:
        RunError: if the model cannot be read.
        UnsupportedModel: if it has no Dense softmax head.
    """
    model = open_source_model(source)
    if isinstance(model, NumpyModel):
        return numpy_features_and_logits(model, pooled=pooled)
    return keras_features_and_logits(model, pooled=pooled)


def precomputed_features(features_and_logits: FeaturesAndLogits, mnist: Mnist, map_digits: int = MAP_DIGITS,
                         train_digits: int = TRAIN_DIGITS) -> FeaturesAndLogits:
    """The features of `write_feature_files`' sample computed now, as a function that hands them back later.

    A worker computes them with the run's Keras model before its next job reuses that model, then
    writes the files from them on a thread of its own (`core.runs.background_feature_files`).

    Args:
        features_and_logits: the model's images → `(features, logits[, pooled])` function.
        mnist: the dataset; map_digits, train_digits: as `write_feature_files` will be given them.

    Returns:
        A function that takes the same sample's images (as `write_feature_files` makes them) and returns
        the features and logits (and pooled features, where `features_and_logits` gives them) computed here.
    """
    outputs = features_and_logits(sample_images(mnist, map_digits, train_digits)[2])

    def computed(images: np.ndarray) -> tuple[np.ndarray, ...]:
        if len(images) != len(outputs[0]):
            raise ValueError(f"The features were computed for {len(outputs[0])} images, not {len(images)}: "
                             "pass write_feature_files the same map_digits and train_digits.")
        return outputs

    return computed
