"""The embedding map as a still picture, for Draw: the digits as coloured dots, mistakes crossed, a drawing's star.

Draw places a drawing on the map at every stroke. As a plotly scatter of 5,000 points, the chart
cost the browser ~0.5-0.7 s a stroke to draw again (bench/attribution_browser.py: stroke →
overlay p95 1.0-1.5 s with it, 0.36-0.52 s without, side by side). Draw needs no hover or zoom
there (the Map page has them), so it shows this picture instead: a few milliseconds to make, one
small PNG to send. Each class's digit is written at the middle of its points, which is the legend.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.data.mnist import NUM_CLASSES
from core.figures.embedding_figure import DIGIT_COLOURS

PICTURE_SIZE = 760  # pixels a side; shown at half that, so it stays sharp on a projector or a phone
MARGIN = 24  # pixels between the outermost digits and the edge
DOT_RADIUS = 3
CROSS_HALF = 5
STAR_OUTER, STAR_INNER = 30, 12
STAR_FILL, STAR_EDGE = (255, 215, 0), (0, 0, 0)
LABEL_SIZE = 40


def picture_position(coordinates: np.ndarray, points: np.ndarray, size: int = PICTURE_SIZE) -> np.ndarray:
    """Where `points` fall in the picture of `coordinates`' map: float `(n, 2)` pixel positions (x right, y down).

    The map's bounding box fills the picture less `MARGIN`, the same scale on both axes (a circle
    stays a circle); a point outside the box is put on its edge.
    """
    coordinates = np.asarray(coordinates, dtype=np.float64)
    low, high = coordinates.min(axis=0), coordinates.max(axis=0)
    scale = (size - 2 * MARGIN) / max(float((high - low).max()), 1e-12)
    centre = (low + high) / 2
    placed = (np.clip(np.asarray(points, dtype=np.float64), low, high) - centre) * scale
    return np.stack([size / 2 + placed[:, 0], size / 2 - placed[:, 1]], axis=1)


def embedding_picture(coordinates: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                      drawing: tuple[float, float] | None = None, size: int = PICTURE_SIZE) -> np.ndarray:
    """The map's digits as dots of their true digit's colour (the Map page's colours), mistakes as black crosses,
    each digit's numeral (black, outlined in white) at the median of its points, and `drawing` as a gold star.

    Args:
        coordinates: float `(n, 2)`, the map's view (t-SNE or PCA).
        y_true, y_pred: the digits' labels and the model's predictions, `(n,)`.
        drawing: the drawing's place in the same view, or None.
        size: the picture's side in pixels.

    Returns:
        uint8 `(size, size, 3)`, white background.
    """
    coordinates = np.asarray(coordinates, dtype=np.float64)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    positions = picture_position(coordinates, coordinates, size)
    picture = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(picture)
    for (x, y), digit in zip(positions, y_true):
        pen.ellipse((x - DOT_RADIUS, y - DOT_RADIUS, x + DOT_RADIUS, y + DOT_RADIUS), fill=DIGIT_COLOURS[int(digit)])
    for x, y in positions[y_true != y_pred]:
        pen.line((x - CROSS_HALF, y - CROSS_HALF, x + CROSS_HALF, y + CROSS_HALF), fill="black", width=2)
        pen.line((x - CROSS_HALF, y + CROSS_HALF, x + CROSS_HALF, y - CROSS_HALF), fill="black", width=2)
    font = ImageFont.load_default(size=LABEL_SIZE)
    for digit in range(NUM_CLASSES):
        chosen = positions[y_true == digit]
        if len(chosen):
            x, y = np.median(chosen, axis=0)
            pen.text((x, y), str(digit), fill="black", font=font, anchor="mm", stroke_width=4, stroke_fill="white")
    if drawing is not None:
        (x, y), = picture_position(coordinates, np.array([drawing]), size)
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, STAR_OUTER, STAR_INNER)
        pen.polygon([(x + r * np.cos(a), y - r * np.sin(a)) for r, a in zip(radii, angles)],
                    fill=STAR_FILL, outline=STAR_EDGE, width=3)
    return np.asarray(picture)
