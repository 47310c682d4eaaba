"""The MNIST loader: the real file passes, and every kind of bad file fails with a fix in the message."""

import os
import random
from pathlib import Path

import numpy as np
import pytest

import core.data.mnist
from core.data.mnist import ARRAY_SHA256, EXPECTED_SHAPES, DatasetError, load_mnist, read_mnist_file

# Class counts of the real MNIST (shared/data/README.md), an oracle independent of the loader.
TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def mnist_like(**changes) -> dict:
    """All-zero arrays of MNIST's shapes and dtype, with `changes` applied."""
    arrays = {key: np.zeros(shape, dtype=np.uint8) for key, shape in EXPECTED_SHAPES.items()}
    arrays.update(changes)
    return arrays


def assert_names_path_and_fix(error: DatasetError, path) -> None:
    message = str(error)
    assert str(path) in message, message
    assert "MNIST_PATH" in message and "good copy" in message, message


def test_real_file_loads_with_mnist_shapes_labels_and_hashes(mnist):
    assert mnist.path == os.environ["MNIST_PATH"]
    for key, shape in EXPECTED_SHAPES.items():
        array = getattr(mnist, key)
        assert array.shape == shape and array.dtype == np.uint8
    assert np.bincount(mnist.y_train).tolist() == TRAIN_CLASS_COUNTS
    assert np.bincount(mnist.y_test).tolist() == TEST_CLASS_COUNTS
    verified = read_mnist_file(mnist.path, verify_hashes=True)
    assert np.array_equal(verified.x_test, mnist.x_test)


def test_load_is_cached_per_file(mnist):
    assert load_mnist(mnist.path) is load_mnist(mnist.path)


def test_missing_file_names_the_path_and_the_fix(tmp_path):
    path = tmp_path / "nowhere" / "mnist.npz"
    with pytest.raises(DatasetError, match="not found") as caught:
        load_mnist(path)
    assert_names_path_and_fix(caught.value, path)


def write_random_bytes(path, real):
    path.write_bytes(random.Random(0).randbytes(5000))


def write_empty(path, real):
    path.write_bytes(b"")


def write_truncated_copy(path, real):
    data = real.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_flipped_bytes(path, real):
    """A full-length copy with 64 bytes inverted inside x_test's compressed data.

    zlib then fails while inflating (not a CRC mismatch): `zlib.error` is neither an
    `OSError` nor a `ValueError`, so the loader must catch it by name.
    """
    data = bytearray(real.read_bytes())
    start = 9_640_000  # inside x_test.npy's deflate stream in the shared mnist.npz
    data[start : start + 64] = bytes(b ^ 0xFF for b in data[start : start + 64])
    path.write_bytes(bytes(data))


def write_flipped_header(path, real):
    data = bytearray(real.read_bytes())
    data[100:164] = bytes(b ^ 0xFF for b in data[100:164])  # inside x_train.npy's deflate stream
    path.write_bytes(bytes(data))


def write_missing_arrays(path, real):
    np.savez(path, x_train=np.zeros((3, 28, 28), np.uint8))


def write_wrong_shapes(path, real):
    np.savez(path, **mnist_like(x_train=np.zeros((100, 28, 28), np.uint8)))


def write_wrong_image_size(path, real):
    np.savez(path, **mnist_like(x_test=np.zeros((10_000, 32, 32), np.uint8)))


def write_wrong_dtype(path, real):
    np.savez(path, **mnist_like(x_train=np.zeros((60_000, 28, 28), np.float32)))


def write_labels_out_of_range(path, real):
    labels = np.zeros(10_000, np.uint8)
    labels[-1] = 10
    np.savez(path, **mnist_like(y_test=labels))


def write_single_array(path, real):
    """A plain `.npy` file (one array, not an archive) under the expected name."""
    with open(path, "wb") as file:
        np.save(file, np.zeros((28, 28), np.uint8))


def write_pickled_objects(path, real):
    np.save(path.with_suffix(".npy"), np.array([{"x_train": 1}], dtype=object), allow_pickle=True)
    path.with_suffix(".npy").rename(path)


@pytest.mark.parametrize(
    "write, expected",
    [
        (write_random_bytes, "corrupt"),
        (write_empty, "corrupt"),
        (write_truncated_copy, "truncated or corrupt"),
        (write_flipped_bytes, "truncated or corrupt"),
        (write_flipped_header, "truncated or corrupt"),
        (write_missing_arrays, "lacks the arrays"),
        (write_wrong_shapes, "wrong shape"),
        (write_wrong_image_size, "wrong shape"),
        (write_wrong_dtype, "wrong shape"),
        (write_labels_out_of_range, "labels above 9"),
        (write_single_array, "not MNIST|corrupt"),
        (write_pickled_objects, "corrupt"),
    ],
    ids=lambda value: value.__name__.removeprefix("write_") if callable(value) else None,
)
def test_bad_file_is_refused_naming_the_path_and_the_fix(tmp_path, mnist, write, expected):
    path = tmp_path / "mnist.npz"
    write(path, Path(mnist.path))
    with pytest.raises(DatasetError, match=expected) as caught:
        load_mnist(path)
    assert_names_path_and_fix(caught.value, path)


def test_hash_check_catches_one_changed_pixel(tmp_path, mnist):
    x_train = mnist.x_train.copy()
    x_train[123, 14, 14] ^= 1
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
    assert read_mnist_file(path).x_train[123, 14, 14] == x_train[123, 14, 14]  # shapes alone pass
    with pytest.raises(DatasetError, match="x_train.*sha256") as caught:
        read_mnist_file(path, verify_hashes=True)
    assert_names_path_and_fix(caught.value, path)
    assert set(ARRAY_SHA256) == set(EXPECTED_SHAPES)


def test_mnist_path_is_searched_first(tmp_path, monkeypatch, mnist):
    monkeypatch.setattr(core.data.mnist, "PROJECT_MNIST_PATH", tmp_path / "data" / "mnist.npz")
    monkeypatch.setenv("MNIST_PATH", mnist.path)
    assert core.data.mnist.candidate_paths()[0] == Path(mnist.path)
    assert load_mnist(download=False).path == mnist.path


def test_no_file_anywhere_without_download_names_every_path_tried(tmp_path, monkeypatch):
    paths = [tmp_path / "project" / "mnist.npz", tmp_path / "keras" / "mnist.npz"]
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setattr(core.data.mnist, "PROJECT_MNIST_PATH", paths[0])
    monkeypatch.setattr(core.data.mnist, "KERAS_CACHE_PATH", paths[1])
    with pytest.raises(DatasetError) as caught:
        load_mnist(download=False)
    message = str(caught.value)
    for path in paths:
        assert str(path) in message, message
    assert "MNIST_PATH" in message and "at data/mnist.npz" in message and "download-mnist" in message
