"""The Data page's overview of the real MNIST: class counts, sample grid, sizes."""

import numpy as np
import pytest

from core.data.dataset_overview import GRID_GAP, class_counts, describe_dataset, sample_indices, tile_digits

# Images per digit in MNIST's training set, as published with the dataset (LeCun et al.).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_class_counts_match_mnists_published_counts(mnist):
    counts = class_counts(mnist.y_train)
    assert counts.tolist() == MNIST_TRAIN_COUNTS
    assert counts.sum() == len(mnist.y_train)


def test_class_counts_refuse_labels_outside_0_to_9():
    with pytest.raises(ValueError, match="labels from 0 to 10"):
        class_counts(np.array([0, 3, 10]))


def test_sample_indices_pick_distinct_images_of_each_row_digit(mnist):
    chosen = sample_indices(mnist.y_train, samples_per_class=7, seed=3)
    assert chosen.shape == (10, 7)
    for digit, row in enumerate(chosen):
        assert (mnist.y_train[row] == digit).all()
        assert len(set(row.tolist())) == 7
    np.testing.assert_array_equal(chosen, sample_indices(mnist.y_train, 7, seed=3))  # seeded
    assert not np.array_equal(chosen, sample_indices(mnist.y_train, 7, seed=4))


def test_sample_indices_refuse_more_samples_than_the_rarest_digit_has():
    labels = np.array([d for d in range(10) for _ in range(3)] + [0])
    with pytest.raises(ValueError, match=r"\[1, 3\].*samples_per_class=4"):
        sample_indices(labels, samples_per_class=4)


def test_tile_digits_places_each_digit_at_its_cell():
    images = np.arange(2 * 3 * 28 * 28, dtype=np.int64).reshape(2, 3, 28, 28)
    grid = tile_digits(images, gap=2)
    assert grid.shape == (2 * 28 + 2, 3 * 28 + 2 * 2)
    np.testing.assert_array_equal(grid[30:58, 60:88], images[1, 2])
    assert (grid[28:30, :] == 0).all() and (grid[:, 28:30] == 0).all()  # the gaps stay background


def test_describe_dataset_grid_shows_the_sampled_training_images(mnist):
    overview = describe_dataset(mnist, samples_per_class=10, seed=0)
    assert (overview.train_size, overview.test_size) == (60_000, 10_000)
    assert overview.test_counts.sum() == 10_000
    chosen = sample_indices(mnist.y_train, 10, seed=0)
    step = 28 + GRID_GAP
    for digit in (0, 4, 9):
        cell = overview.sample_grid[digit * step : digit * step + 28, 5 * step : 5 * step + 28]
        np.testing.assert_array_equal(cell, mnist.x_train[chosen[digit, 5]])
    assert overview.sample_grid.dtype == np.uint8
