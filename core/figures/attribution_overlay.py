"""An attribution map drawn over the 28×28 digit it explains: red for evidence for, blue against."""

from __future__ import annotations

import numpy as np

from core.data.mnist import IMAGE_SHAPE

FOR_COLOUR = np.array([255, 64, 48], np.float32)  # red: raised the target's score
AGAINST_COLOUR = np.array([64, 150, 255], np.float32)  # blue: lowered it
BACKGROUND_LEVEL, INK_LEVEL = 24.0, 150.0  # the digit in dim grey under the colours, so both read
MAX_OPACITY = 0.9
OVERLAY_ZOOM = 6  # 168 x 168 pixels on screen


def attribution_overlay(image: np.ndarray, values: np.ndarray, zoom: int = OVERLAY_ZOOM,
                        scale: float | None = None, contrast: float = 0.5) -> np.ndarray:
    """Colour a digit by its attribution map.

    Args:
        image: float array `(28, 28)` with values in `[0, 1]` (the model's input).
        values: float array `(28, 28)`, the attribution (> 0 for the target, < 0 against).
        zoom: each pixel becomes a `zoom x zoom` block (nearest neighbour: no blurring).
        scale: the magnitude drawn at full opacity; None = the map's own largest magnitude.
        contrast: opacity grows as `(|values| / scale) ** contrast`: 0.5 keeps weak evidence
            visible (pixel maps: integrated gradients, occlusion); 1.0 lets only the strongest
            regions stand out (smooth maps: Grad-CAM, which is above zero almost everywhere).

    Returns:
        uint8 RGB array `(28 * zoom, 28 * zoom, 3)`: the digit in grey, red where `values > 0`
        and blue where `values < 0`, more opaque the larger `|values|`.

    Raises:
        ValueError: if either array is not `(28, 28)` or `zoom` is below 1.
    """
    image = np.asarray(image, dtype=np.float32)
    values = np.asarray(values, dtype=np.float32)
    if np.shape(image) != IMAGE_SHAPE or values.shape != IMAGE_SHAPE:
        raise ValueError(f"`image` and `values` must have shape (28, 28). Received: image.shape={np.shape(image)}, "
                         f"values.shape={values.shape}")
    if zoom < 1:
        raise ValueError(f"`zoom` must be a positive integer. Received: zoom={zoom}")
    scale = float(np.abs(values).max()) if scale is None else float(scale)
    strength = np.clip(np.abs(values) / scale, 0.0, 1.0) if scale > 0 else np.zeros(IMAGE_SHAPE, np.float32)
    opacity = (MAX_OPACITY * strength ** contrast)[..., None]
    grey = (BACKGROUND_LEVEL + (INK_LEVEL - BACKGROUND_LEVEL) * np.clip(image, 0.0, 1.0))[..., None]
    colour = np.where((values >= 0)[..., None], FOR_COLOUR, AGAINST_COLOUR)
    picture = np.round(grey * (1.0 - opacity) + colour * opacity).astype(np.uint8)
    return np.repeat(np.repeat(picture, zoom, axis=0), zoom, axis=1)
