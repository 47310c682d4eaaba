"""Model inputs made the way Draw makes them: ink on its 280x280 canvas, through its preprocessing.

What the outlier detector (`core.novelty.outlier_detector`) is fitted on besides MNIST's own digits: the
same digits as a learner would draw them, and pairs of digits side by side (one kind of "not a digit"):

- `redrawn_digits`: an MNIST digit scaled up onto the canvas and back through Draw's preprocessing;
- `traced_digits`: an MNIST digit thinned to its one-pixel skeleton (Zhang and Suen's thinning, 1984) and
  traced again with a round brush on the canvas, turned a little: real handwriting shapes with Draw's even
  strokes (fitted without them, the detector took a straight drawn 1 for an "l");
- `digit_pairs`: two digits next to each other, cropped and scaled as one drawing.

Each returns float32 `(n, 28, 28)` model inputs in `[0, 1]`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.drawing.preprocess import canvas_to_input

CANVAS = 280  # Draw's canvas side, px
UPSCALE = 3  # skeletons are found on the digits scaled up 3x (84x84): smoother strokes than at 28x28
INK_THRESHOLD = 0.35  # of the upscaled digit's ink in [0, 1]: what counts as pen
BRUSH = (8, 36)  # px on the canvas, the range traced digits are drawn with (Draw: 5-50, 22 by default)
TURN = 0.15  # radians: traced digits are turned by up to this, either way


def ink_to_input(ink: np.ndarray) -> np.ndarray:
    """A uint8 `(h, w)` ink image (white on black) → Draw's 28x28 model input (the ink goes in as the alpha channel:
    the same input as white on black, without the maximum over three colour channels)."""
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = ink
    return canvas_to_input(rgba, "transparent")


def redrawn_digits(x: np.ndarray) -> np.ndarray:
    """MNIST digits `(n, 28, 28)` uint8 scaled up onto Draw's canvas and back through its preprocessing."""
    return np.stack([ink_to_input(np.asarray(Image.fromarray(digit).resize((CANVAS, CANVAS), Image.Resampling.BILINEAR)))
                     for digit in x])


def zhang_suen_thinning(ink: np.ndarray) -> np.ndarray:
    """The one-pixel skeletons of binary images `(n, h, w)` bool, by Zhang and Suen's two-step thinning."""
    image = np.pad(np.asarray(ink, bool), ((0, 0), (1, 1), (1, 1)))
    while True:
        changed = False
        for step in (0, 1):
            p = image.astype(np.uint8)
            # the neighbours P2..P9, clockwise from north
            n = [p[:, :-2, 1:-1], p[:, :-2, 2:], p[:, 1:-1, 2:], p[:, 2:, 2:],
                 p[:, 2:, 1:-1], p[:, 2:, :-2], p[:, 1:-1, :-2], p[:, :-2, :-2]]
            count = sum(n)
            transitions = sum(((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                first, second = n[0] * n[2] * n[4], n[2] * n[4] * n[6]
            else:
                first, second = n[0] * n[2] * n[6], n[0] * n[4] * n[6]
            remove = (image[:, 1:-1, 1:-1] & (count >= 2) & (count <= 6) & (transitions == 1)
                      & (first == 0) & (second == 0))
            if remove.any():
                image[:, 1:-1, 1:-1] &= ~remove
                changed = True
        if not changed:
            return image[:, 1:-1, 1:-1]


def skeletons(x: np.ndarray) -> np.ndarray:
    """MNIST digits uint8 `(n, 28, 28)` → their skeletons at `UPSCALE`x, bool `(n, 84, 84)`."""
    size = 28 * UPSCALE
    upscaled = np.stack([np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR)) for digit in x])
    return zhang_suen_thinning(upscaled > INK_THRESHOLD * 255)


def traced(skeleton: np.ndarray, brush: int, angle: float) -> np.ndarray:
    """A skeleton `(h, w)` bool traced with a round brush of `brush` px on Draw's canvas, turned by `angle` radians."""
    rows, columns = np.nonzero(skeleton)
    scale = CANVAS * 0.75 / skeleton.shape[0]
    centre = (skeleton.shape[0] - 1) / 2
    cos, sin = np.cos(angle), np.sin(angle)

    def on_canvas(row: float, column: float) -> tuple[float, float]:
        x, y = (column - centre) * scale, (row - centre) * scale
        return CANVAS / 2 + cos * x - sin * y, CANVAS / 2 + sin * x + cos * y

    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    radius = brush / 2
    points = set(zip(rows.tolist(), columns.tolist()))
    for row, column in points:
        px, py = on_canvas(row, column)
        draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=255)
        for d_row, d_column in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each neighbouring pair once: a line between them
            if (row + d_row, column + d_column) in points:
                draw.line([(px, py), on_canvas(row + d_row, column + d_column)], fill=255, width=brush)
    return np.asarray(canvas)


def traced_digits(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MNIST digits uint8 `(n, 28, 28)` traced along their skeletons with a brush of `BRUSH` px, turned up to
    `TURN` radians, → Draw's inputs."""
    return np.stack([ink_to_input(traced(skeleton, int(rng.integers(BRUSH[0], BRUSH[1] + 1)), float(rng.uniform(-TURN, TURN))))
                     for skeleton in skeletons(x)])


def digit_pairs(count: int, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`count` pairs of digits drawn at random from `x` (uint8 `(n, 28, 28)`), side by side, as one drawing."""
    made = []
    for _ in range(count):
        first, second = rng.integers(len(x), size=2)
        pair = np.concatenate([x[first], x[second]], axis=1)  # (28, 56)
        made.append(ink_to_input(np.asarray(Image.fromarray(pair).resize((2 * CANVAS, CANVAS), Image.Resampling.BILINEAR))))
    return np.stack(made)
