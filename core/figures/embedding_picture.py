"""The embedding map as a still picture, for Draw: the digits as coloured dots, mistakes crossed, a drawing's star.

Draw places a drawing on the map at every stroke. As a plotly scatter of 5,000 points, the chart
cost the browser ~0.5-0.7 s a stroke to draw again (bench/attribution_browser.py: stroke →
overlay p95 1.0-1.5 s with it, 0.36-0.52 s without, side by side). Draw needs no hover or zoom
there (the Map page has them), so it shows this picture instead: a few milliseconds to make, one
small PNG to send; the dots are drawn once per map (`MapPicture`), only the star at each stroke. Each class's digit is written at the middle of its points, which is the legend.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.data.mnist import NUM_CLASSES
from core.figures.embedding_figure import DIGIT_COLOURS

PICTURE_SIZE = 760  # pixels a side; shown at half that, so it stays sharp on a projector or a phone
MARGIN = 24  # pixels between the outermost digits and the edge
DOT_RADIUS = 3
CROSS_HALF = 5
STAR_OUTER, STAR_INNER = 30, 12
STAR_FILL = (255, 215, 0)
# The picture's palette, by index: white, the ten digits' colours, black, the star's gold.
PALETTE = [(255, 255, 255), *(tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5)) for colour in DIGIT_COLOURS),
           (0, 0, 0), STAR_FILL]
WHITE, FIRST_DIGIT, BLACK, GOLD = 0, 1, 1 + NUM_CLASSES, 2 + NUM_CLASSES
LABEL_SIZE = 40
PNG_COMPRESSION = 1  # zlib's fastest level


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
    picture = MapPicture(coordinates, y_true, y_pred, size)
    return np.asarray((picture.image if drawing is None else picture.with_star(drawing)).convert("RGB"))


class MapPicture:
    """The map's picture drawn once (its dots, crosses and numerals), then a star put on a copy for each drawing.

    Args: as `embedding_picture`'s, but for the drawing.
    """

    def __init__(self, coordinates: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, size: int = PICTURE_SIZE):
        self.coordinates, self.size = np.asarray(coordinates, dtype=np.float64), size
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        positions = picture_position(self.coordinates, self.coordinates, size)
        # A palette picture: one byte a pixel, every colour exact (no smoothing), so a PNG of it is made in a few ms.
        self.image = Image.new("P", (size, size), WHITE)
        self.image.putpalette([channel for colour in PALETTE for channel in colour])
        pen = ImageDraw.Draw(self.image)
        pen.fontmode = "1"  # numerals without grey edges: they would need colours the palette lacks
        for (x, y), digit in zip(positions, y_true):
            pen.ellipse((x - DOT_RADIUS, y - DOT_RADIUS, x + DOT_RADIUS, y + DOT_RADIUS), fill=FIRST_DIGIT + int(digit))
        for x, y in positions[y_true != y_pred]:
            pen.line((x - CROSS_HALF, y - CROSS_HALF, x + CROSS_HALF, y + CROSS_HALF), fill=BLACK, width=2)
            pen.line((x - CROSS_HALF, y + CROSS_HALF, x + CROSS_HALF, y - CROSS_HALF), fill=BLACK, width=2)
        font = ImageFont.load_default(size=LABEL_SIZE)
        for digit in range(NUM_CLASSES):
            chosen = positions[y_true == digit]
            if len(chosen):
                x, y = np.median(chosen, axis=0)
                pen.text((x, y), str(digit), fill=BLACK, font=font, anchor="mm", stroke_width=4, stroke_fill=WHITE)

    def with_star(self, drawing: tuple[float, float]) -> Image.Image:
        """A copy of the picture with a gold star where `drawing` (a place in the map's view) falls."""
        (x, y), = picture_position(self.coordinates, np.array([drawing]), self.size)
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, STAR_OUTER, STAR_INNER)
        starred = self.image.copy()
        ImageDraw.Draw(starred).polygon([(x + r * np.cos(a), y - r * np.sin(a)) for r, a in zip(radii, angles)],
                                        fill=GOLD, outline=BLACK, width=3)
        return starred

    def png_with_star(self, drawing: tuple[float, float]) -> bytes:
        """`with_star` as PNG bytes, compressed lightly: ~4x faster to make than the default, for a stroke's answer."""
        buffer = io.BytesIO()
        self.with_star(drawing).save(buffer, format="PNG", compress_level=PNG_COMPRESSION)
        return buffer.getvalue()
