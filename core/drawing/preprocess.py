"""Turn a canvas drawing into one MNIST-like input, the way MNIST's own digits were made.

MNIST's digits were cropped to their ink, scaled (antialiased, aspect ratio kept) so the
longer side is 20 px, put in a 28x28 frame and shifted so the ink's centre of mass is at
pixel (14, 14). A drawing that skips these steps (a small digit in a corner of a big
canvas) looks nothing like what the model was trained on; after them it does.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

FRAME_SIZE = 28  # MNIST's image side
DIGIT_SIZE = 20  # the longer side of the ink's bounding box in MNIST
FRAME_CENTRE = 14.0  # where MNIST put the centre of mass, in pixel indices (measured: 13.99, 14.00)
MIN_TOTAL_INK = 0.5  # in fully-inked pixels; less than this is a stray click, not a drawing
BACKGROUNDS = ("transparent", "black")


class EmptyDrawingError(ValueError):
    """The drawing holds no ink, so there is nothing to classify."""


def ink_of(rgba: np.ndarray, background: str = "transparent") -> np.ndarray:
    """The ink of a canvas drawing, one value per pixel.

    Args:
        rgba: uint8 array of shape `(height, width, 4)` from the canvas (or
            `(height, width, 3)` when `background="black"`).
        background: `"transparent"`: the ink is the alpha channel (any stroke colour);
            `"black"`: the canvas was painted black and the ink is the brightest of the
            R, G and B channels (a light stroke).

    Returns:
        uint8 array of shape `(height, width)`, 0 = no ink, 255 = full ink.

    Raises:
        ValueError: if `rgba` or `background` is not one of the forms above.
    """
    if background not in BACKGROUNDS:
        raise ValueError(
            f"Received an invalid value for `background`, expected one of {list(BACKGROUNDS)}. "
            f"Received: background={background!r}"
        )
    rgba = np.asarray(rgba)
    channels = (4,) if background == "transparent" else (3, 4)
    if rgba.ndim != 3 or rgba.shape[2] not in channels or rgba.shape[0] == 0 or rgba.shape[1] == 0:
        raise ValueError(
            f"`rgba` must be an image of shape (height, width, {' or '.join(map(str, channels))}) "
            f"with background={background!r}. Received: rgba.shape={rgba.shape}"
        )
    if rgba.dtype != np.uint8:
        raise ValueError(
            f"`rgba` must hold uint8 pixels 0..255, as the canvas returns them. Received: "
            f"rgba.dtype={rgba.dtype}. Convert with `np.clip(rgba, 0, 255).astype(np.uint8)`."
        )
    if background == "transparent":
        return rgba[:, :, 3]
    return rgba[:, :, :3].max(axis=2)


def total_ink(ink: np.ndarray) -> float:
    """The amount of ink, in fully-inked pixels."""
    return float(ink.sum(dtype=np.int64)) / 255.0


def has_ink(rgba: np.ndarray, background: str = "transparent") -> bool:
    """Whether a canvas drawing holds enough ink to be classified.

    Args:
        rgba: uint8 array of shape `(height, width, 4)` from the canvas.
        background: `"transparent"` (ink in the alpha channel) or `"black"` (ink is the
            brightest RGB channel).

    Returns:
        `True` when `canvas_to_input` would not raise `EmptyDrawingError`.
    """
    return total_ink(ink_of(rgba, background)) >= MIN_TOTAL_INK


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """The intensity-weighted mean `(row, column)` of a non-empty 2-D image."""
    total = image.sum()
    rows = np.arange(image.shape[0], dtype=np.float64)
    columns = np.arange(image.shape[1], dtype=np.float64)
    return float(image.sum(axis=1) @ rows / total), float(image.sum(axis=0) @ columns / total)


def scale_to_digit_size(crop: np.ndarray) -> np.ndarray:
    """Resize a cropped ink image so its longer side is `DIGIT_SIZE`, keeping the aspect ratio.

    Args:
        crop: float32 array of shape `(height, width)` with values in `[0, 1]`.

    Returns:
        float32 array whose longer side is 20 and shorter side at least 1, values in `[0, 1]`.
    """
    height, width = crop.shape
    scale = DIGIT_SIZE / max(height, width)
    new_height = max(1, round(height * scale))  # a 1-px-wide stroke stays 1 px wide
    new_width = max(1, round(width * scale))
    resized = Image.fromarray(crop).resize((new_width, new_height), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)  # Lanczos rings past [0, 1]


def canvas_to_input(rgba: np.ndarray, background: str = "transparent") -> np.ndarray:
    """Turn a canvas drawing into one MNIST-like model input.

    Crops to the ink's bounding box, resizes (Lanczos, aspect ratio kept) so the longer side
    is 20 px, pastes it into a 28x28 frame and shifts it by whole pixels so the ink's centre
    of mass lands on pixel (14, 14), as MNIST did. The shift is clipped so no ink leaves the
    frame. Feed the result to a model as `image[None, :, :, None]`.

    Args:
        rgba: uint8 array of shape `(height, width, 4)` from streamlit-drawable-canvas; any
            size, square or not.
        background: `"transparent"` (default): the ink is the alpha channel;
            `"black"`: the canvas was painted black and the ink is the brightest RGB channel.

    Returns:
        float32 array of shape `(28, 28)` with values in `[0, 1]`, 1 = full ink.

    Raises:
        EmptyDrawingError: if the drawing holds less than half a pixel's worth of ink.
        ValueError: if `rgba` is not a uint8 image of the shape above, or `background`
            is neither `"transparent"` nor `"black"`.
    """
    ink = ink_of(rgba, background)
    if total_ink(ink) < MIN_TOTAL_INK:
        raise EmptyDrawingError(
            f"The drawing holds no ink (total ink {total_ink(ink):.2f} pixels, at least "
            f"{MIN_TOTAL_INK} needed). Draw a digit first"
            + (", or pass background='black' if the canvas was painted black." if background == "transparent" else ".")
        )
    inked_rows = np.flatnonzero(ink.any(axis=1))
    inked_columns = np.flatnonzero(ink.any(axis=0))
    top, bottom = inked_rows[0], inked_rows[-1] + 1
    left, right = inked_columns[0], inked_columns[-1] + 1
    crop = ink[top:bottom, left:right].astype(np.float32) / 255.0
    digit = scale_to_digit_size(crop)

    height, width = digit.shape
    frame = np.zeros((FRAME_SIZE, FRAME_SIZE), dtype=np.float32)
    top, left = (FRAME_SIZE - height) // 2, (FRAME_SIZE - width) // 2
    if digit.sum() == 0:  # Lanczos can wipe out a faint stroke; keep the box centred then
        frame[top : top + height, left : left + width] = digit
        return frame
    row, column = centre_of_mass(digit)
    # whole-pixel shift of the box's top-left corner, clipped so the box stays in the frame
    top = int(np.clip(round(FRAME_CENTRE - row), 0, FRAME_SIZE - height))
    left = int(np.clip(round(FRAME_CENTRE - column), 0, FRAME_SIZE - width))
    frame[top : top + height, left : left + width] = digit
    return frame
