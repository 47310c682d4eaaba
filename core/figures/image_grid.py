"""Lay out many small arrays (conv filters, feature maps, input weights) as one picture."""

from __future__ import annotations

import math

import numpy as np

# Colour anchors, evenly spaced from the lowest value to the highest.
GRAY = np.array([[0, 0, 0], [255, 255, 255]], dtype=np.float32)
DIVERGING = np.array([[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]], dtype=np.float32)  # ColorBrewer RdBu: blue < 0 < red
COLORMAPS = {"gray": GRAY, "diverging": DIVERGING}


def colorize(values: np.ndarray, colormap: str = "gray", scale: float | None = None) -> np.ndarray:
    """Map a 2-D array to colours.

    Args:
        values: float array of shape `(h, w)`.
        colormap: `"gray"` maps `0 → black` and `scale → white` (for activations, which
            are not negative); `"diverging"` maps `-scale → blue`, `0 → white`,
            `+scale → red` (for weights).
        scale: the magnitude that gets the extreme colour; None = the array's own largest
            magnitude. Values beyond it are clipped.

    Returns:
        uint8 array of shape `(h, w, 3)`.

    Raises:
        ValueError: for an unknown `colormap` or a non-2-D `values`.
    """
    if colormap not in COLORMAPS:
        raise ValueError(f"Received an invalid value for `colormap`, expected one of {list(COLORMAPS)}. Received: colormap={colormap!r}")
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"`values` must be a 2-D array. Received: values.shape={values.shape}")
    if scale is None:
        scale = float(np.abs(values).max())
    scale = scale if scale > 0 else 1.0  # an all-zero map stays at the zero colour
    if colormap == "gray":
        position = np.clip(values / scale, 0.0, 1.0)
    else:
        position = (np.clip(values / scale, -1.0, 1.0) + 1.0) / 2.0
    anchors = COLORMAPS[colormap]
    spots = position * (len(anchors) - 1)
    low = np.minimum(spots.astype(np.int64), len(anchors) - 2)
    fraction = (spots - low)[..., None]
    colours = anchors[low] * (1.0 - fraction) + anchors[low + 1] * fraction
    return np.round(colours).astype(np.uint8)


def tile(
    images: np.ndarray,
    columns: int | None = None,
    colormap: str = "gray",
    shared_scale: bool = True,
    zoom: int = 1,
    gap: int = 2,
) -> np.ndarray:
    """Place `n` equally sized 2-D arrays in a grid, each coloured by `colorize`.

    Args:
        images: float array of shape `(n, h, w)`, `n >= 1`.
        columns: images per row; None = about a square grid.
        colormap: `"gray"` or `"diverging"`, as in `colorize`.
        shared_scale: one colour scale for all images (their largest magnitude), so a weak
            map looks weak; False = each image scaled to its own largest magnitude, which
            shows every pattern but hides their relative strength.
        zoom: each pixel becomes a `zoom x zoom` block (nearest neighbour: no blurring).
        gap: transparent pixels between zoomed images (the page's background shows through).

    Returns:
        uint8 RGBA array of shape `(rows * (h * zoom + gap) - gap, columns * (w * zoom + gap) - gap, 4)`;
        images are opaque, gaps and empty places transparent.

    Raises:
        ValueError: if `images` is not a non-empty `(n, h, w)` array, `zoom` or `columns` is
            below 1, or `gap` is negative.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"`images` must be a non-empty array of shape (n, h, w). Received: images.shape={images.shape}")
    if zoom < 1 or (columns is not None and columns < 1) or gap < 0:
        raise ValueError(f"`zoom` and `columns` must be at least 1 and `gap` at least 0. Received: zoom={zoom}, columns={columns}, gap={gap}")
    count, height, width = images.shape
    columns = min(columns or math.ceil(math.sqrt(count)), count)
    rows = math.ceil(count / columns)
    scale = float(np.abs(images).max()) if shared_scale else None
    cell_height, cell_width = height * zoom, width * zoom
    grid = np.zeros((rows * (cell_height + gap) - gap, columns * (cell_width + gap) - gap, 4), dtype=np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (cell_height + gap), column * (cell_width + gap)
        colours = colorize(image, colormap, scale).repeat(zoom, axis=0).repeat(zoom, axis=1)
        grid[top : top + cell_height, left : left + cell_width, :3] = colours
        grid[top : top + cell_height, left : left + cell_width, 3] = 255
    return grid


def zoom_for(size: int, target: int) -> int:
    """The whole-number zoom that brings a `size`-pixel image closest to `target` pixels (at least 1)."""
    return max(1, round(target / max(size, 1)))
