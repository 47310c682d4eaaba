"""Colour mapping and grid layout of filters, feature maps and weights, checked pixel by pixel."""

import numpy as np
import pytest

from core.figures.image_grid import DIVERGING, colorize, tile, zoom_for


def test_gray_maps_zero_to_black_and_the_largest_value_to_white():
    colours = colorize(np.array([[0.0, 0.5, 2.0]]), "gray")
    np.testing.assert_array_equal(colours[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(colours[0, 1], [64, 64, 64])  # 0.25 of the way: round(63.75)
    np.testing.assert_array_equal(colours[0, 2], [255, 255, 255])


def test_diverging_is_symmetric_around_zero():
    colours = colorize(np.array([[-3.0, 0.0, 3.0, 1.5]]), "diverging")
    np.testing.assert_array_equal(colours[0, 0], DIVERGING[0])  # -max: blue end
    np.testing.assert_array_equal(colours[0, 1], DIVERGING[2])  # 0: the middle (white)
    np.testing.assert_array_equal(colours[0, 2], DIVERGING[-1])  # +max: red end
    np.testing.assert_array_equal(colours[0, 3], DIVERGING[3])  # half of +max: the next anchor


def test_an_explicit_scale_clips_and_an_all_zero_map_stays_at_zero():
    np.testing.assert_array_equal(colorize(np.array([[10.0]]), "gray", scale=1.0)[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(colorize(np.zeros((2, 2)), "gray"), np.zeros((2, 2, 3)))


def test_tile_places_each_image_row_by_row_with_transparent_gaps():
    images = np.zeros((5, 2, 3), dtype=np.float32)
    for index in range(5):
        images[index, 1, 2] = index + 1  # one bright pixel, brighter for later images
    grid = tile(images, columns=3, gap=1)
    assert grid.shape == (2 * 3 - 1, 3 * 4 - 1, 4)
    for index in range(5):
        row, column = divmod(index, 3)
        pixel = grid[row * 3 + 1, column * 4 + 2]
        assert pixel[0] == round(255 * (index + 1) / 5)  # one shared scale: the largest value is white
        assert pixel[3] == 255  # images are opaque
    assert np.all(grid[2, :, 3] == 0)  # the row of gap pixels is transparent
    assert np.all(grid[3:, 8:, 3] == 0)  # so is the empty sixth place


def test_tile_with_own_scales_makes_every_image_reach_white():
    images = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 100.0)])
    grid = tile(images, columns=2, shared_scale=False, gap=0)
    assert grid[0, 0, 0] == 255 and grid[0, 3, 0] == 255


def test_tile_zoom_repeats_pixels_without_blurring_and_gaps_are_not_zoomed():
    images = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    grid = tile(images, columns=2, zoom=3, gap=2)
    assert grid.shape == (3, 6 + 2 + 6, 4)
    np.testing.assert_array_equal(grid[:, :3, :3], 0)
    np.testing.assert_array_equal(grid[:, 3:6, :3], 255)
    assert np.all(grid[:, 6:8, 3] == 0)
    np.testing.assert_array_equal(grid[:, 8:11, :3], 255)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="colormap"):
        colorize(np.zeros((2, 2)), "jet")
    with pytest.raises(ValueError, match="images"):
        tile(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="zoom"):
        tile(np.zeros((1, 2, 2)), zoom=0)


def test_zoom_for():
    assert zoom_for(28, 84) == 3
    assert zoom_for(5, 48) == 10
    assert zoom_for(100, 10) == 1
