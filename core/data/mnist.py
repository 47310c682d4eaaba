"""Find the real MNIST on this machine, validate it, and download it only when asked.

Nothing here touches the network unless `download_mnist` is called (`python -m core download-mnist`,
or `load_mnist(download=True)`): a worker, a page or a test never downloads on its own, so a server
without internet fails at once with a message instead of waiting on a socket.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # core/data/mnist.py → the project
PROJECT_MNIST_PATH = PROJECT_ROOT / "data" / "mnist.npz"  # a copy you put there (git ignores it; data/README.md)
KERAS_CACHE_PATH = Path.home() / ".keras" / "datasets" / "mnist.npz"
MNIST_PATH_ENV = "MNIST_PATH"
# sha256 of the reference copy's bytes (data/README.md): checking it costs ~0.03 s, the arrays' hashes ~0.2-0.5 s.
PROJECT_FILE_SHA256 = "99b6212d8b734503d7fa2e29ea6413bad62226998e56555f4a6b0b30072f1aec"
# Where Keras downloads MNIST from, and that file's sha256 (keras/src/datasets/mnist.py).
DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
DOWNLOAD_FILE_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
DOWNLOAD_TIMEOUT_SECONDS = 120.0  # the whole download, not each read: ~11 MB
DOWNLOAD_MAX_BYTES = 64 * 2**20  # the real file is 11 MB; anything far bigger is not it
RESTORE_HINT = (
    "Put a good copy of MNIST's mnist.npz at data/mnist.npz, point MNIST_PATH at one, or download it "
    "once with `python -m core download-mnist` (the one step that needs the internet)."
)

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
        `[path]`; else `[$MNIST_PATH]` when the variable is set (a choice the user made: no
        fallback hides a mistyped path); else `[<project>/data/mnist.npz, ~/.keras/datasets/mnist.npz]`.
    """
    if path is not None:
        return [Path(path)]
    if os.environ.get(MNIST_PATH_ENV):
        return [Path(os.environ[MNIST_PATH_ENV])]
    return [PROJECT_MNIST_PATH, KERAS_CACHE_PATH]


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
    if path == PROJECT_MNIST_PATH:
        fix = RESTORE_HINT
    else:
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
        for key, expected in ARRAY_SHA256.items():
            if hashlib.sha256(arrays[key].tobytes()).hexdigest() != expected:
                raise DatasetError(f"{path}: `{key}` differs from MNIST's (sha256 mismatch). {fix}")
    return Mnist(**arrays, path=str(path))


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_project_mnist(path: str | os.PathLike = PROJECT_MNIST_PATH) -> Mnist:
    """Read the project's `data/mnist.npz`, checked by its file hash, else by its arrays' hashes.

    Whatever copy was put there (the reference copy, Keras's download, another faithful one) passes
    by its bytes or its arrays; a damaged one (a truncated copy, a Git LFS pointer) is refused.

    Raises:
        DatasetError: if the file is missing, damaged or not MNIST, naming how to restore it.
    """
    same_bytes = Path(path).is_file() and file_sha256(path) == PROJECT_FILE_SHA256
    return read_mnist_file(path, verify_hashes=not same_bytes)


def download_mnist(
    destination: str | os.PathLike | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
    url: str | None = None,
) -> Path:
    """Download MNIST from Keras's address, check it, and save it; only ever called on request.

    The whole download has `timeout` seconds (each read also waits at most that long), so an
    offline machine fails instead of hanging. The file must have Keras's sha256 and MNIST's
    arrays before it replaces `destination` (written to a temporary file beside it first).

    Args:
        destination: where to save `mnist.npz` (default `KERAS_CACHE_PATH`, which the loader searches).
        timeout: seconds for the whole download, > 0.
        url: where to download from (default `DOWNLOAD_URL`, Keras's address).

    Returns:
        `destination`, holding a verified copy.

    Raises:
        ValueError: if `timeout` is not a positive number.
        DatasetError: if the download fails, times out, or brings something that is not MNIST.
    """
    if not timeout > 0:
        raise ValueError(f"`timeout` must be a positive number of seconds. Received: timeout={timeout!r}")
    destination = Path(destination or KERAS_CACHE_PATH)
    url = url or DOWNLOAD_URL
    fix = (f"Check the connection (or the proxy in $https_proxy) and retry, or copy an mnist.npz to "
           f"{destination} or {PROJECT_MNIST_PATH}.")
    deadline = time.monotonic() + timeout
    partial = None
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=timeout) as response:
            with tempfile.NamedTemporaryFile(dir=destination.parent, prefix=".mnist-", suffix=".part", delete=False) as out:
                partial = Path(out.name)
                received = 0
                while block := response.read1(2**16):  # what has arrived: the deadline is checked as bytes trickle in
                    received += len(block)
                    if received > DOWNLOAD_MAX_BYTES:
                        raise DatasetError(f"downloading MNIST from {url} brought more than "
                                           f"{DOWNLOAD_MAX_BYTES // 2**20} MiB: not MNIST. {fix}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"not finished after {timeout:g} s ({received:,} bytes)")
                    out.write(block)
        if file_sha256(partial) != DOWNLOAD_FILE_SHA256:
            raise DatasetError(f"the file downloaded from {url} is not Keras's mnist.npz (sha256 mismatch). {fix}")
        read_mnist_file(partial, verify_hashes=True)
        partial.chmod(0o644)  # a temporary file is private; the dataset is not
        os.replace(partial, destination)
        partial = None
    except DatasetError:
        raise
    except Exception as error:  # network errors come as many types: URLError, TimeoutError, OSError, HTTPException
        raise DatasetError(f"downloading MNIST from {url} failed ({type(error).__name__}: {error}). {fix}") from None
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
    return destination


_cache: dict[str, Mnist] = {}


def _read_candidate(candidate: Path) -> Mnist:
    key = str(candidate.resolve())
    if key not in _cache:
        same_file = candidate.resolve() == PROJECT_MNIST_PATH.resolve()
        _cache[key] = read_project_mnist(candidate) if same_file else read_mnist_file(candidate)
    return _cache[key]


def load_mnist(path: str | os.PathLike | None = None, download: bool = False) -> Mnist:
    """Find, validate and return MNIST; cached per file for the life of the process.

    Looks at `path` if given; else at `$MNIST_PATH` alone when it is set; else at the project's
    `data/mnist.npz`, then Keras's cache. Nothing is downloaded unless `download` is True.

    Args:
        path: an explicit `.npz` file.
        download: download MNIST (with a timeout, `download_mnist`) when no local file exists.
            Only a user's explicit request sets this; workers and pages never do.

    Returns:
        The validated `Mnist`.

    Raises:
        DatasetError: naming the path(s) tried and how to fix it.
    """
    if path is None and os.environ.get(MNIST_PATH_ENV):
        chosen = Path(os.environ[MNIST_PATH_ENV])
        if not chosen.is_file():
            raise DatasetError(
                f"MNIST_PATH is set to {chosen}, which is not a file. Point MNIST_PATH at an mnist.npz, "
                f"or unset it to use {PROJECT_MNIST_PATH} or Keras's cache."
            )
    candidates = candidate_paths(path)
    for candidate in candidates:
        if candidate.is_file() or path is not None:
            return _read_candidate(candidate)
    tried = ", ".join(str(c) for c in candidates)
    if not download:
        raise DatasetError(f"MNIST not found (tried {tried}). {RESTORE_HINT}")
    try:
        downloaded = download_mnist()
    except DatasetError as error:
        raise DatasetError(f"MNIST not found locally (tried {tried}), and {error}") from None
    return load_mnist(downloaded)
