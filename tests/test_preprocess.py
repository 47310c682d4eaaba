"""Canvas preprocessing against MNIST's own digits, which were made the same way."""

import os
from pathlib import Path

os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

import numpy as np
import pytest

import core  # noqa: F401  (before anything imports TensorFlow)
from core.data.mnist import load_mnist
from core.drawing.preprocess import EmptyDrawingError, canvas_to_input, centre_of_mass, has_ink, scale_to_digit_size

SHIFT_DIFF = 0.05  # mean |difference| above this means the digit moved or changed shape


@pytest.fixture(scope="module")
def digits():
    """The first 20 MNIST test digits, uint8 `(20, 28, 28)`."""
    return load_mnist(download=False).x_test[:20]


def alpha_canvas(ink: np.ndarray, shape=(280, 280), at=(0, 0)) -> np.ndarray:
    """A transparent canvas of `shape` with `ink` (uint8 2-D) in its alpha channel at `at`."""
    canvas = np.zeros((*shape, 4), dtype=np.uint8)
    row, column = at
    canvas[row : row + ink.shape[0], column : column + ink.shape[1], 3] = ink
    return canvas


def upscale(digit: np.ndarray, factor: int) -> np.ndarray:
    return np.kron(digit, np.ones((factor, factor), dtype=np.uint8))


def assert_centred(image: np.ndarray, tolerance: float = 1.0):
    row, column = centre_of_mass(image)
    assert abs(row - 14) <= tolerance and abs(column - 14) <= tolerance, (row, column)


def test_mnist_digit_drawn_at_ten_times_comes_back_as_itself(digits):
    for digit in digits:
        result = canvas_to_input(alpha_canvas(upscale(digit, 10)))
        original = digit.astype(np.float32) / 255.0
        assert np.abs(result - original).mean() < 0.02
        assert np.allclose(centre_of_mass(result), centre_of_mass(original), atol=1.0)
        peak = np.unravel_index(result.argmax(), result.shape)
        assert original[peak] > 0.5  # the brightest output pixel is ink in the original too


def test_one_pixel_shift_would_fail_the_oracle(digits):
    # guards the oracle itself: the tolerance above does catch a digit moved by one pixel
    original = digits[0].astype(np.float32) / 255.0
    assert np.abs(np.roll(original, 1, axis=1) - original).mean() > SHIFT_DIFF


def test_output_is_float32_28x28_in_unit_range(digits):
    result = canvas_to_input(alpha_canvas(upscale(digits[0], 10)))
    assert result.dtype == np.float32 and result.shape == (28, 28)
    assert result.min() >= 0.0 and result.max() <= 1.0


def test_small_digit_in_a_corner_comes_out_centred_and_full_size(digits):
    digit = digits[1]
    result = canvas_to_input(alpha_canvas(upscale(digit, 4), at=(0, 280 - 112)))
    assert_centred(result)
    assert np.abs(result - digit / 255.0).mean() < SHIFT_DIFF


def test_non_square_canvas(digits):
    digit = digits[2]
    result = canvas_to_input(alpha_canvas(upscale(digit, 5), shape=(150, 400), at=(5, 260)))
    assert_centred(result)
    assert np.abs(result - digit / 255.0).mean() < SHIFT_DIFF


def test_black_background_reads_ink_from_rgb(digits):
    digit = digits[3]
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    canvas[..., 3] = 255  # an opaque black canvas: alpha says nothing about the ink
    canvas[..., 0] = canvas[..., 1] = canvas[..., 2] = upscale(digit, 10)
    result = canvas_to_input(canvas, background="black")
    assert np.abs(result - digit / 255.0).mean() < 0.02
    assert has_ink(canvas, background="black")


def test_black_background_accepts_rgb_without_alpha(digits):
    rgb = np.repeat(upscale(digits[3], 10)[..., None], 3, axis=2)
    assert canvas_to_input(rgb, background="black").shape == (28, 28)


@pytest.mark.parametrize("background", ["transparent", "black"])
def test_empty_canvas_raises(background):
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    if background == "black":
        canvas[..., 3] = 255
    assert not has_ink(canvas, background=background)
    with pytest.raises(EmptyDrawingError, match="no ink"):
        canvas_to_input(canvas, background=background)


def test_a_trace_of_ink_counts_as_empty():
    canvas = alpha_canvas(np.full((1, 1), 50, dtype=np.uint8), at=(100, 100))
    assert not has_ink(canvas)
    with pytest.raises(EmptyDrawingError):
        canvas_to_input(canvas)


def test_empty_drawing_error_is_a_value_error():
    assert issubclass(EmptyDrawingError, ValueError)


def test_single_dot():
    dot = np.zeros((7, 7), dtype=np.uint8)
    dot[2:5, 1:6] = 255
    dot[1:6, 2:5] = 255  # a small filled disc, as a click on the canvas draws
    canvas = alpha_canvas(dot, at=(30, 200))
    assert has_ink(canvas)
    result = canvas_to_input(canvas)
    assert np.isfinite(result).all() and result.max() > 0.5
    assert_centred(result)


def test_single_pixel():
    result = canvas_to_input(alpha_canvas(np.full((1, 1), 255, dtype=np.uint8), at=(0, 0)))
    assert np.isfinite(result).all()
    assert_centred(result)


def test_completely_filled_canvas():
    result = canvas_to_input(np.full((280, 280, 4), 255, dtype=np.uint8))
    assert np.isfinite(result).all()
    assert_centred(result, tolerance=0.5)
    assert np.isclose(result.sum(), 400, rtol=0.01)  # a 20x20 block


def test_one_pixel_wide_stroke_touching_the_border():
    stroke = np.full((280, 1), 255, dtype=np.uint8)  # the canvas's whole left edge
    result = canvas_to_input(alpha_canvas(stroke, at=(0, 0)))
    assert np.isfinite(result).all()
    assert_centred(result)
    assert (result > 0).any(axis=0).sum() == 1  # still one pixel wide, 20 tall
    assert (result > 0).any(axis=1).sum() == 20


def test_lopsided_ink_is_not_pushed_out_of_the_frame():
    # all the mass at the bottom of a tall box: centring it fully would push the top out
    ink = np.zeros((200, 10), dtype=np.uint8)
    ink[:, 4:6] = 1  # a faint line ...
    ink[190:, :] = 255  # ... ending in a heavy blob
    result = canvas_to_input(alpha_canvas(ink, at=(40, 40)))
    whole_digit = scale_to_digit_size(ink.astype(np.float32) / 255.0)  # (20, 1)
    assert np.isclose(result.sum(), whole_digit.sum(), rtol=1e-5)  # no ink was cut off
    assert result[0].sum() > 0  # pushed as far up as the frame allows, not further


def test_rejects_wrong_shape_dtype_and_background():
    with pytest.raises(ValueError, match="rgba.shape"):
        canvas_to_input(np.zeros((28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="rgba.dtype"):
        canvas_to_input(np.zeros((28, 28, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="background='white'"):
        canvas_to_input(np.zeros((28, 28, 4), dtype=np.uint8), background="white")


def test_fast_on_a_280_canvas(digits):
    import time

    canvas = alpha_canvas(upscale(digits[0], 10))
    canvas_to_input(canvas)
    start = time.perf_counter()
    for _ in range(20):
        canvas_to_input(canvas)
    assert (time.perf_counter() - start) / 20 < 0.005
