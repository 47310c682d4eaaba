"""Draw's still picture of the embedding map: dots where the map puts the digits, in their colours, mistakes crossed,
the drawing's star where the Map page's chart puts it (the browser check of that is tests/test_browser_map.py)."""

import io

import numpy as np
import pytest
from PIL import Image

from core.figures.embedding_figure import DIGIT_COLOURS
from core.figures.embedding_picture import MARGIN, PICTURE_SIZE, STAR_FILL, MapPicture, embedding_picture, picture_position


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def near(picture: np.ndarray, position, radius: int = 4) -> set[tuple[int, int, int]]:
    x, y = (int(round(v)) for v in position)
    return {tuple(pixel) for pixel in picture[y - radius:y + radius + 1, x - radius:x + radius + 1].reshape(-1, 3)}


def test_the_bounding_box_fills_the_picture_less_the_margin_on_one_scale_and_y_points_up():
    coordinates = np.array([[0.0, 0.0], [10.0, 5.0]])
    corners = picture_position(coordinates, coordinates)
    assert corners[0] == pytest.approx([MARGIN, PICTURE_SIZE / 2 + (PICTURE_SIZE - 2 * MARGIN) / 4])
    assert corners[1] == pytest.approx([PICTURE_SIZE - MARGIN, PICTURE_SIZE / 2 - (PICTURE_SIZE - 2 * MARGIN) / 4])
    outside = picture_position(coordinates, np.array([[-100.0, 100.0]]))[0]
    assert outside == pytest.approx(corners[0] * [1, 0] + corners[1] * [0, 1])  # put on the box's edge


def test_digits_are_dots_of_their_colour_mistakes_are_crossed_and_the_drawing_is_a_gold_star():
    rng = np.random.default_rng(0)
    left = rng.normal([-10, 0], 0.3, (40, 2))
    right = rng.normal([10, 0], 0.3, (40, 2))
    coordinates = np.concatenate([left, right, [[0.0, 8.0]], [[0.0, -8.0]]])
    y_true = np.array([3] * 40 + [8] * 40 + [5, 5])
    y_pred = y_true.copy()
    y_pred[-1] = 6  # the lone 5 at the bottom is a mistake, the one at the top is not
    picture = embedding_picture(coordinates, y_true, y_pred, drawing=(10.0, 0.0))
    assert picture.shape == (PICTURE_SIZE, PICTURE_SIZE, 3) and picture.dtype == np.uint8
    place = picture_position(coordinates, coordinates)
    assert rgb(DIGIT_COLOURS[3]) in near(picture, place[0]) and rgb(DIGIT_COLOURS[8]) not in near(picture, place[0])
    assert (0, 0, 0) in near(picture, place[-1]) and (0, 0, 0) not in near(picture, place[-2])
    star = picture_position(coordinates, np.array([[10.0, 0.0]]))[0]
    gold = np.argwhere((picture == STAR_FILL).all(axis=2))
    assert len(gold) > 100 and gold.mean(axis=0)[::-1] == pytest.approx(star, abs=2)
    assert not (embedding_picture(coordinates, y_true, y_pred) == STAR_FILL).all(axis=2).any()  # no drawing, no star


def test_the_png_for_a_stroke_is_the_same_picture_with_its_star():
    rng = np.random.default_rng(1)
    coordinates, labels = rng.normal(0, 5, (300, 2)), rng.integers(0, 10, 300)
    picture = MapPicture(coordinates, labels, labels)
    png = picture.png_with_star((1.0, -2.0))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert np.array_equal(decoded, embedding_picture(coordinates, labels, labels, drawing=(1.0, -2.0)))
    assert not np.array_equal(np.asarray(picture.image.convert("RGB")), decoded)  # the copy got the star, not the base
