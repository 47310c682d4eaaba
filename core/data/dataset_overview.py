"""MNIST at a glance: a grid of sample digits per class, and how many images each class has."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.mnist import IMAGE_SHAPE, NUM_CLASSES, Mnist

SAMPLES_PER_CLASS = 10
GRID_GAP = 2  # pixels of background between neighbouring digits in the grid


@dataclass(frozen=True)
class DatasetOverview:
    """What the Data page shows: sizes, class counts and one image of sample digits."""

    train_size: int
    test_size: int
    train_counts: np.ndarray  # int64 (10,): images of each digit in the training set
    test_counts: np.ndarray  # int64 (10,)
    sample_grid: np.ndarray  # uint8 (rows, cols): one row of digits per class, 0 = background
    samples_per_class: int


def class_counts(labels: np.ndarray) -> np.ndarray:
    """Images per digit.

    Args:
        labels: integer array of shape `(n,)` with labels in `0..9`.

    Returns:
        int64 array of shape `(10,)` summing to `n`.

    Raises:
        ValueError: if a label lies outside `0..9`.
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"`labels` must lie in 0..{NUM_CLASSES - 1}. Received: labels from {labels.min()} to {labels.max()}")
    return np.bincount(labels.astype(np.int64), minlength=NUM_CLASSES)


def sample_indices(labels: np.ndarray, samples_per_class: int = SAMPLES_PER_CLASS, seed: int = 0) -> np.ndarray:
    """Pick `samples_per_class` random images of each digit.

    Args:
        labels: integer array of shape `(n,)`.
        samples_per_class: images per digit; must not exceed the rarest digit's count.
        seed: seeds the choice, so the same grid comes back every time.

    Returns:
        int64 array of shape `(10, samples_per_class)`: row `d` indexes images of digit `d`,
        in ascending order.

    Raises:
        ValueError: if `samples_per_class` is below 1 or some digit has fewer images.
    """
    counts = class_counts(labels)
    if samples_per_class < 1 or samples_per_class > counts.min():
        raise ValueError(
            f"`samples_per_class` must lie in [1, {counts.min()}] (the rarest digit's count). "
            f"Received: samples_per_class={samples_per_class}"
        )
    rng = np.random.default_rng(seed)
    rows = [np.sort(rng.choice(np.flatnonzero(labels == digit), samples_per_class, replace=False))
            for digit in range(NUM_CLASSES)]
    return np.stack(rows)


def tile_digits(images: np.ndarray, gap: int = GRID_GAP) -> np.ndarray:
    """Lay a `(rows, cols, 28, 28)` block of digits out as one image, `gap` pixels apart.

    Returns:
        array of `images`' dtype, shape `(rows·28 + (rows-1)·gap, cols·28 + (cols-1)·gap)`.
    """
    rows, cols, height, width = images.shape
    grid = np.zeros((rows * height + (rows - 1) * gap, cols * width + (cols - 1) * gap), images.dtype)
    for row in range(rows):
        for col in range(cols):
            top, left = row * (height + gap), col * (width + gap)
            grid[top : top + height, left : left + width] = images[row, col]
    return grid


def describe_dataset(mnist: Mnist, samples_per_class: int = SAMPLES_PER_CLASS, seed: int = 0) -> DatasetOverview:
    """Sizes, class counts and a sample grid of the training set (row `d` shows digit `d`)."""
    chosen = sample_indices(mnist.y_train, samples_per_class, seed)
    digits = mnist.x_train[chosen.ravel()].reshape(NUM_CLASSES, samples_per_class, *IMAGE_SHAPE)
    return DatasetOverview(
        train_size=len(mnist.y_train),
        test_size=len(mnist.y_test),
        train_counts=class_counts(mnist.y_train),
        test_counts=class_counts(mnist.y_test),
        sample_grid=tile_digits(digits),
        samples_per_class=samples_per_class,
    )
