"""Integrated gradients from a black image: each pixel's share of the target logit's rise.

Sundararajan, Taly and Yan (2017). Along the straight path from a baseline (black, MNIST's
background) to the image, the target logit's gradient is averaged and multiplied by how much each
pixel differs from the baseline. The attributions add up to the logit's difference between the
image and the baseline ("completeness"), up to the error of the sum that stands for the integral
(`tests/test_explain_methods.py` holds it within 5%).
"""

from __future__ import annotations

import numpy as np

from core.data.mnist import IMAGE_SHAPE
from core.explain.logit_gradients import LogitModel

# Points on the path (midpoint rule): the predicted class's sum within 1.1% on the completeness test's 20 digits
# (48: 1.6%, 32: 5.4%), 8.7% at worst on 200 (48: 17.9%), ~22 ms of CPU a map. On this ReLU model the gradient
# is piecewise constant along the path, so trapezoid or Gauss-Legendre points do no better for as many
# (bench/results/ig_path_points.txt).
STEPS = 64
BATCH_SIZE = 128  # path points per backward pass: a big conv model's patches and their gradient stay under ~100 MB each


def integrated_gradients(model: LogitModel, images: np.ndarray, targets: np.ndarray, steps: int = STEPS,
                         baseline: np.ndarray | None = None) -> np.ndarray:
    """Integrated gradients of each image's target logit.

    Args:
        model: the model, run up to its logits.
        images: float array `(n, 28, 28)` with values in `[0, 1]`.
        targets: int array `(n,)`, the class each map is about.
        steps: points on the path from the baseline to the image.
        baseline: float array `(28, 28)`; None = black (all zeros).

    Returns:
        float32 `(n, 28, 28)`; each map sums to about `logit(image) - logit(baseline)` of its target.

    Raises:
        ValueError: if `steps` is below 1.
    """
    if steps < 1:
        raise ValueError(f"`steps` must be a positive integer. Received: steps={steps}")
    images = np.asarray(images, dtype=np.float32).reshape(-1, *IMAGE_SHAPE)
    baseline = np.zeros(IMAGE_SHAPE, np.float32) if baseline is None else np.asarray(baseline, np.float32)
    alphas = ((np.arange(steps, dtype=np.float32) + 0.5) / steps)[:, None, None]  # midpoints of `steps` intervals
    path = (baseline + alphas[None] * (images - baseline)[:, None]).reshape(-1, *IMAGE_SHAPE, 1)  # (n * steps, 28, 28, 1)
    path_targets = np.repeat(np.asarray(targets), steps)
    gradients = np.concatenate([
        model.gradients(path[start: start + BATCH_SIZE], path_targets[start: start + BATCH_SIZE]).input_gradient
        for start in range(0, len(path), BATCH_SIZE)
    ]).reshape(len(images), steps, *IMAGE_SHAPE)
    return ((images - baseline) * gradients.mean(axis=1)).astype(np.float32)
