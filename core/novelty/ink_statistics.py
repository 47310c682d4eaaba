"""A few numbers about a drawing's ink that no model is needed for: how much, in how many strokes, with how many holes.

A digit is one or two strokes with at most two holes (an 8), its ink inside a box taller than wide; a letter
"m" or "W" is wider, a "B" has holes and a bar, a scribble crosses itself into many holes, a smudge is a solid
blob. These are inputs of the outlier detector (`core.novelty.outlier_detector`), which weighs them with the
model's features; alone they tell little (bench/results/not_a_digit.txt).

Each row of `ink_statistics`, for one 28x28 model input in `[0, 1]`:

    mean_ink              the mean pixel value
    inked_share           the share of pixels above `INK_LEVEL`
    strokes               connected pieces of ink (8-connected), as a count
    holes                 connected pieces of background (4-connected) other than the outside, as a count
    largest_stroke_share  the largest piece's share of the inked pixels
    log_aspect            log(height / width) of the inked pixels' bounding box
    solid_share           the share of inked pixels that are nearly full ink (above 0.9): thick, even strokes
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

INK_LEVEL = 0.3  # a pixel at least this dark is ink (MNIST's strokes are 0.5-1 at their core)
SOLID_LEVEL = 0.9
INK_STATISTICS = ("mean_ink", "inked_share", "strokes", "holes", "largest_stroke_share", "log_aspect", "solid_share")
EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)  # strokes touch diagonally; the background is 4-connected between them


def ink_statistics(images: np.ndarray) -> np.ndarray:
    """The `INK_STATISTICS` of each image.

    Args:
        images: float `(n, 28, 28)` (or `(n, 28, 28, 1)`) model inputs in `[0, 1]`.

    Returns:
        float32 `(n, 7)`, the columns in `INK_STATISTICS`' order; a blank image gives zeros but a 0 aspect.
    """
    images = np.asarray(images, dtype=np.float32)
    images = images.reshape(len(images), images.shape[1], images.shape[2])
    rows = np.zeros((len(images), len(INK_STATISTICS)), np.float32)
    for index, image in enumerate(images):
        ink = image > INK_LEVEL
        inked = int(ink.sum())
        rows[index, 0], rows[index, 1] = image.mean(), inked / ink.size
        if inked == 0:
            continue
        pieces, strokes = ndimage.label(ink, structure=EIGHT_NEIGHBOURS)
        _, background_pieces = ndimage.label(~ink)
        sizes = np.bincount(pieces.ravel())[1:]
        ink_rows, ink_columns = np.nonzero(ink)
        height = ink_rows.max() - ink_rows.min() + 1
        width = ink_columns.max() - ink_columns.min() + 1
        rows[index, 2:] = (strokes, max(background_pieces - 1, 0), sizes.max() / inked, np.log(height / width),
                           float((image > SOLID_LEVEL).sum()) / inked)
    return rows
