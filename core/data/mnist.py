"""Load the real MNIST from a local file or Keras's download, and validate it by its arrays."""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # core/data/mnist.py → the project
PROJECT_MNIST_PATH = PROJECT_ROOT / "data" / "mnist.npz"
KERAS_CACHE_PATH = Path.home() / ".keras" / "datasets" / "mnist.npz"

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
TRAIN_SIZE = 60_000
TEST_SIZE = 10_000
EXPECTED_SHAPES = {
    "x_train": (TRAIN_SIZE, *IMAGE_SHAPE),
    "y_train": (TRAIN_SIZE,),
    "x_test": (TEST_SIZE, *IMAGE_SHAPE),
    "y_test": (TEST_SIZE,),
}
# sha256 of each array's raw bytes; the same for every faithful copy of MNIST,
# whatever the .npz container (Keras's file hash differs from other copies').
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


class DatasetError(RuntimeError):
    """MNIST could not be found or is not a valid copy; the message says how to fix it."""


@dataclass(frozen=True)
class Mnist:
    """The four MNIST arrays as stored: uint8 images `(n, 28, 28)`, uint8 labels `(n,)`."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    path: str


def candidate_paths(path: str | os.PathLike | None = None) -> list[Path]:
    """The places looked at for `mnist.npz`, in order.

    Args:
        path: an explicit file; when given, it is the only candidate.

    Returns:
        `[path]`, or `[$MNIST_PATH, <project>/data/mnist.npz, ~/.keras/datasets/mnist.npz]`
        without the environment variable when it is unset.
    """
    if path is not None:
        return [Path(path)]
    candidates = []
    if os.environ.get("MNIST_PATH"):
        candidates.append(Path(os.environ["MNIST_PATH"]))
    candidates += [PROJECT_MNIST_PATH, KERAS_CACHE_PATH]
    return candidates


def read_mnist_file(path: str | os.PathLike, verify_hashes: bool = False) -> Mnist:
    """Read and validate one `mnist.npz` without unpickling anything.

    Args:
        path: the `.npz` file with `x_train`, `y_train`, `x_test`, `y_test`.
        verify_hashes: also compare each array's sha256 with MNIST's (about 0.1 s).

    Returns:
        The validated `Mnist`.

    Raises:
        DatasetError: if the file is missing, unreadable, truncated or not MNIST's shape.
    """
    path = Path(path)
    fix = (
        f"Replace {path} with a good copy of MNIST's mnist.npz, or point MNIST_PATH "
        "at one (e.g. MNIST_PATH=../shared/data/mnist.npz)."
    )
    if not path.is_file():
        raise DatasetError(f"MNIST file not found: {path}. {fix}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a bare .npy holds one array, not four
            raise DatasetError(f"{path} is not MNIST: it is a single .npy array, not an .npz archive. {fix}")
        with loaded as archive:
            missing = [key for key in EXPECTED_SHAPES if key not in archive.files]
            if missing:
                raise DatasetError(
                    f"{path} is not MNIST: it lacks the arrays {missing} "
                    f"(found {sorted(archive.files)}). {fix}"
                )
            arrays = {key: archive[key] for key in EXPECTED_SHAPES}
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as error:  # zlib: bytes damaged mid-stream
        raise DatasetError(f"{path} is truncated or corrupt ({error}). {fix}") from None
    for key, shape in EXPECTED_SHAPES.items():
        array = arrays[key]
        if array.shape != shape or array.dtype != np.uint8:
            raise DatasetError(
                f"{path} has the wrong shape for MNIST: `{key}` is {array.dtype}{list(array.shape)}, "
                f"expected uint8{list(shape)}. {fix}"
            )
    for key in ("y_train", "y_test"):
        if arrays[key].max() >= NUM_CLASSES:
            raise DatasetError(f"{path}: `{key}` holds labels above 9. {fix}")
    if verify_hashes:
        import hashlib

        for key, expected in ARRAY_SHA256.items():
            if hashlib.sha256(arrays[key].tobytes()).hexdigest() != expected:
                raise DatasetError(f"{path}: `{key}` differs from MNIST's (sha256 mismatch). {fix}")
    return Mnist(**arrays, path=str(path))


def download_mnist() -> Path:
    """Download MNIST through Keras (which checks its own file hash) into Keras's cache.

    Raises:
        DatasetError: if the download fails, e.g. offline.
    """
    try:
        from keras.datasets import mnist  # noqa: F401  (imports TensorFlow's Keras backend)
        import keras

        keras.datasets.mnist.load_data()
    except Exception as error:  # network errors come as many types
        raise DatasetError(f"downloading MNIST through Keras failed ({type(error).__name__}: {error})") from None
    return KERAS_CACHE_PATH


_cache: dict[str, Mnist] = {}


def load_mnist(path: str | os.PathLike | None = None, download: bool = True) -> Mnist:
    """Find, validate and return MNIST; cached per file for the life of the process.

    Looks at `path` if given; otherwise `$MNIST_PATH`, `data/mnist.npz` in the project,
    then Keras's cache, and finally downloads through Keras.

    Args:
        path: an explicit `.npz` file.
        download: whether to try Keras's download when no local file exists.

    Returns:
        The validated `Mnist`.

    Raises:
        DatasetError: naming every path tried and how to fix it.
    """
    candidates = candidate_paths(path)
    for candidate in candidates:
        if candidate.is_file() or path is not None:
            key = str(candidate.resolve())
            if key not in _cache:
                _cache[key] = read_mnist_file(candidate)
            return _cache[key]
    tried = ", ".join(str(c) for c in candidates)
    if not download:
        raise DatasetError(f"MNIST not found (tried {tried}). Set MNIST_PATH to a local mnist.npz.")
    try:
        downloaded = download_mnist()
    except DatasetError as error:
        raise DatasetError(
            f"MNIST not found locally (tried {tried}) and {error}. Connect to the internet once, "
            f"or copy mnist.npz to {PROJECT_MNIST_PATH} or set MNIST_PATH to it."
        ) from None
    return load_mnist(downloaded, download=False)
