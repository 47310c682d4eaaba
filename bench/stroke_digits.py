"""Digits as a learner draws them on Draw's canvas: uniform strokes of a round brush, not MNIST's pen ink.

Two sources, kept apart so that one can be fitted on and the other checked on:

- `core.novelty.drawn_images.traced_digits`: MNIST training digits thinned to their
  skeleton and traced again with Draw's brush (8-36 px). The outlier detector learns these as digits
  (`bench/fit_outlier_detector.py`): without them it learnt that an even vertical bar is an "l" or an "I" and
  flagged a straight drawn 1.
- `straight_ones`: a 1 drawn as one straight stroke, upright or leaning a little, some with a short flag at the top:
  the digit learners draw most, and one MNIST hardly has (its 1s are pen strokes, seldom straight and even). Fitted
  on as digits beside the traced ones: without them the detector's verdict on an upright bar swung across the
  threshold from one fit to the next.
- `template_digits`: each digit 0-9 drawn from a few hand-made stroke templates (`DIGIT_TEMPLATES`, in a unit box),
  their points shaken, with a brush of 8-40 px: never fitted on; the bench reports how many of them are flagged.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.novelty.drawn_images import CANVAS, ink_to_input as to_input


def straight_ones(count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` 1s drawn as one straight stroke of 140-240 px leaning up to 12 degrees, with a brush of 8-40 px; one in
    four with a flag at the top (a short stroke down-left from its top)."""
    made = []
    for _ in range(count):
        canvas = Image.new("L", (CANVAS, CANVAS), 0)
        draw = ImageDraw.Draw(canvas)
        length, lean = rng.uniform(140, 240), np.radians(rng.uniform(-12, 12))
        top = np.array([CANVAS / 2 + np.sin(lean) * length / 2, (CANVAS - length) / 2])
        bottom = np.array([CANVAS / 2 - np.sin(lean) * length / 2, (CANVAS + length) / 2])
        points = [tuple(top), tuple(bottom)]
        if rng.random() < 0.25:
            points.insert(0, tuple(top + [-rng.uniform(0.15, 0.3) * length, rng.uniform(0.1, 0.25) * length]))
        draw.line(points, fill=255, width=int(rng.integers(8, 41)), joint="curve")
        made.append(to_input(np.asarray(canvas)))
    return np.stack(made)


# Each digit as learners draw it with the mouse: strokes through points of a unit box (x right, y down)
DIGIT_TEMPLATES = {
    0: [[[(0.5, 0.0), (0.85, 0.2), (0.95, 0.55), (0.75, 0.95), (0.3, 0.95), (0.05, 0.55), (0.15, 0.2), (0.5, 0.0)]]],
    1: [[[(0.5, 0.0), (0.5, 1.0)]], [[(0.25, 0.2), (0.55, 0.0), (0.55, 1.0)]], [[(0.6, 0.0), (0.4, 1.0)]]],
    2: [[[(0.05, 0.2), (0.4, 0.0), (0.85, 0.1), (0.85, 0.4), (0.05, 1.0), (1.0, 1.0)]]],
    3: [[[(0.05, 0.1), (0.6, 0.0), (0.9, 0.2), (0.4, 0.5), (0.9, 0.7), (0.6, 1.0), (0.05, 0.9)]]],
    4: [[[(0.7, 1.0), (0.7, 0.0), (0.0, 0.65), (1.0, 0.65)]], [[(0.2, 0.0), (0.1, 0.55), (0.95, 0.55)], [(0.75, 0.2), (0.75, 1.0)]]],
    5: [[[(0.9, 0.0), (0.2, 0.0), (0.15, 0.45), (0.7, 0.4), (0.9, 0.7), (0.6, 1.0), (0.05, 0.9)]]],
    6: [[[(0.8, 0.0), (0.3, 0.3), (0.1, 0.75), (0.4, 1.0), (0.8, 0.85), (0.75, 0.55), (0.2, 0.6)]]],
    7: [[[(0.0, 0.0), (1.0, 0.0), (0.4, 1.0)]], [[(0.0, 0.0), (1.0, 0.0), (0.4, 1.0)], [(0.3, 0.5), (0.8, 0.5)]]],
    8: [[[(0.8, 0.1), (0.5, 0.0), (0.2, 0.15), (0.5, 0.45), (0.85, 0.75), (0.5, 1.0), (0.15, 0.75), (0.5, 0.45),
          (0.8, 0.1)]]],
    9: [[[(0.85, 0.2), (0.5, 0.0), (0.15, 0.2), (0.3, 0.45), (0.85, 0.3), (0.8, 0.0), (0.75, 1.0)]]],
}


def template_digit(digit: int, variant: int, rng: np.random.Generator) -> np.ndarray:
    """One of `DIGIT_TEMPLATES[digit]` drawn with a brush of 8-40 px on Draw's canvas, its points shaken a little."""
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    height = rng.uniform(140, 230)
    width = height * rng.uniform(0.5, 0.8)
    left, top = rng.uniform(20, CANVAS - 20 - width), rng.uniform(20, CANVAS - 20 - height)
    brush = int(rng.integers(8, 41))
    for stroke in DIGIT_TEMPLATES[digit][variant]:
        points = [(left + (x + rng.normal(0, 0.04)) * width, top + (y + rng.normal(0, 0.03)) * height) for x, y in stroke]
        draw.line(points, fill=255, width=brush, joint="curve")
    return to_input(np.asarray(canvas))


def template_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` template digits, 0-9 in turn and each digit's templates in turn, and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = [template_digit(int(digit), (i // 10) % len(DIGIT_TEMPLATES[int(digit)]), rng) for i, digit in enumerate(labels)]
    return np.stack(images), labels
