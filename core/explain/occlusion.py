"""Occlusion sensitivity: cover each patch of the image with black and see the target's logit fall.

Zeiler and Fergus (2014). A patch whose covering lowers the target class's logit held evidence
for that class; one whose covering raises it held evidence against. Each pixel gets the mean
change over the patches that cover it. It needs only forward passes, so it also explains a
model without gradients; black is MNIST's background, so covering ink is what moves the score.
"""

from __future__ import annotations

import numpy as np

from core.data.mnist import IMAGE_SHAPE
from core.explain.logit_gradients import LogitModel

PATCH_SIZE = 4  # pixels: about a stroke's width in a 28x28 MNIST digit
STRIDE = 2  # 13 x 13 = 169 covered copies of each image
BATCH_SIZE = 256  # covered copies per forward pass: a conv's patches stay under ~100 MB (as NumpyModel.predict)


def patch_starts(size: int, patch_size: int, stride: int) -> list[int]:
    """Where patches start along one axis, the last one flush with the edge so every pixel is covered."""
    starts = list(range(0, size - patch_size + 1, stride))
    if starts[-1] != size - patch_size:
        starts.append(size - patch_size)
    return starts


def occlusion(model: LogitModel, images: np.ndarray, targets: np.ndarray, patch_size: int = PATCH_SIZE,
              stride: int = STRIDE) -> np.ndarray:
    """Occlusion sensitivity of each image's target logit.

    Args:
        model: the model, run up to its logits.
        images: float array `(n, 28, 28)` with values in `[0, 1]`.
        targets: int array `(n,)`, the class each map is about.
        patch_size: the side of the black square, in pixels.
        stride: pixels between neighbouring patches.

    Returns:
        float32 `(n, 28, 28)`: per pixel, the mean fall of the target logit over the patches
        covering it (> 0: the pixel's area supports the target; < 0: it argues against it).

    Raises:
        ValueError: if `patch_size` or `stride` is not between 1 and 28.
    """
    height, width = IMAGE_SHAPE
    if not 1 <= patch_size <= min(height, width) or not 1 <= stride <= min(height, width):
        raise ValueError(f"`patch_size` and `stride` must be between 1 and 28 pixels. "
                         f"Received: patch_size={patch_size}, stride={stride}")
    images = np.asarray(images, dtype=np.float32).reshape(-1, height, width)
    targets = np.asarray(targets)
    covers = []
    for top in patch_starts(height, patch_size, stride):
        for left in patch_starts(width, patch_size, stride):
            cover = np.zeros((height, width), np.float32)
            cover[top: top + patch_size, left: left + patch_size] = 1.0
            covers.append(cover)
    covers = np.stack(covers)  # (p, 28, 28)
    coverage = covers.sum(axis=0)  # how many patches cover each pixel
    maps = np.empty(images.shape, np.float32)
    for index, (image, target) in enumerate(zip(images, targets)):
        covered = image[None] * (1.0 - covers)  # (p, 28, 28)
        batch = np.concatenate([image[None], covered])[..., None]
        logits = np.concatenate([model.logits(batch[start: start + BATCH_SIZE])[:, target]
                                 for start in range(0, len(batch), BATCH_SIZE)])
        fall = logits[0] - logits[1:]  # (p,)
        maps[index] = np.tensordot(fall, covers, axes=1) / coverage
    return maps
