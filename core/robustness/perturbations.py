"""The perturbations a robustness sweep applies to MNIST's test digits, and their levels.

Each takes float32 digits `(n, 28, 28)` in `[0, 1]` (what `core.data.splits.to_model_input`
gives, less its channel axis) and returns new ones of the same shape and range. At its
`identity` level a perturbation returns its input unchanged (the very same values), so the
sweep's accuracy there is the run's test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage

IMAGE_CENTRE = 13.5  # pixel coordinates of a 28 x 28 image's centre
CROSS = ndimage.generate_binary_structure(2, 1)[None]  # the 4 neighbours and the pixel itself, one image at a time
NOISE_SEED = 0  # Gaussian noise is drawn from this seed: the same sweep gives the same accuracy


@dataclass(frozen=True)
class Perturbation:
    """One kind of change to the digits, and the levels a sweep tries.

    Attributes:
        name: e.g. `"rotation"`; the CLI's and the cache's key.
        unit: what a level measures, e.g. `"degrees"`.
        levels: the levels a sweep tries, in the order a chart plots them; `identity` is one of them.
        identity: the level that leaves the digits as they are.
        apply: `(digits (n, 28, 28) float32 in [0, 1], level) -> digits` of the same shape.
        description: one sentence for the report.
    """

    name: str
    unit: str
    levels: tuple[float, ...]
    identity: float
    apply: Callable[[np.ndarray, float], np.ndarray]
    description: str


def rotate(digits: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate each digit about its centre, counter-clockwise for positive degrees (bilinear, black outside)."""
    if degrees == 0:
        return digits
    turned = ndimage.rotate(digits, degrees, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)
    return np.clip(turned, 0.0, 1.0)


def shift(digits: np.ndarray, pixels: float) -> np.ndarray:
    """Move each digit right (positive) or left by whole pixels; what leaves the frame is lost."""
    pixels = int(round(pixels))
    if pixels == 0:
        return digits
    moved = np.zeros_like(digits)
    if pixels > 0:
        moved[:, :, pixels:] = digits[:, :, :-pixels]
    else:
        moved[:, :, :pixels] = digits[:, :, -pixels:]
    return moved


def scale(digits: np.ndarray, factor: float) -> np.ndarray:
    """Zoom each digit about the image's centre by `factor` (bilinear; 0.6 shrinks it, 1.4 grows it, cropped)."""
    if factor == 1:
        return digits
    inverse = 1.0 / factor  # output pixel (y, x) reads input centre + (y - centre) / factor
    offset = IMAGE_CENTRE - IMAGE_CENTRE * inverse
    zoomed = ndimage.affine_transform(digits, np.array([1.0, inverse, inverse]), offset=(0.0, offset, offset),
                                      order=1, mode="constant", cval=0.0)
    return np.clip(zoomed, 0.0, 1.0)


def thickness(digits: np.ndarray, steps: float) -> np.ndarray:
    """Thicken strokes (grey dilation, positive steps) or thin them (grey erosion), one pixel's cross per step."""
    steps = int(round(steps))
    changed = digits
    for _ in range(abs(steps)):
        changed = (ndimage.grey_dilation if steps > 0 else ndimage.grey_erosion)(changed, footprint=CROSS)
    return changed


def gaussian_noise(digits: np.ndarray, sigma: float) -> np.ndarray:
    """Add seeded Gaussian noise of standard deviation `sigma` (on the `[0, 1]` scale), clipped to `[0, 1]`."""
    if sigma == 0:
        return digits
    noise = np.random.default_rng(NOISE_SEED).normal(0.0, sigma, digits.shape).astype(np.float32)
    return np.clip(digits + noise, 0.0, 1.0)


def contrast(digits: np.ndarray, factor: float) -> np.ndarray:
    """Fade each digit towards mid-grey: `0.5 + factor * (x - 0.5)` (1 leaves it, 0.1 leaves a tenth of the contrast)."""
    if factor == 1:
        return digits
    return (np.float32(0.5) + np.float32(factor) * (digits - np.float32(0.5))).astype(np.float32)


PERTURBATIONS = {p.name: p for p in (
    Perturbation("rotation", "degrees", (-45, -30, -15, 0, 15, 30, 45), 0, rotate,
                 "Each digit turned about its centre (positive: counter-clockwise)."),
    Perturbation("shift", "pixels", (-6, -4, -2, 0, 2, 4, 6), 0, shift,
                 "Each digit moved left (negative) or right, whole pixels; what leaves the frame is lost."),
    Perturbation("scale", "factor", (0.6, 0.8, 1.0, 1.2, 1.4), 1.0, scale,
                 "Each digit shrunk or grown about the image's centre."),
    Perturbation("thickness", "pixels", (-2, -1, 0, 1, 2), 0, thickness,
                 "Strokes thinned (grey erosion, negative) or thickened (grey dilation), a pixel a step."),
    Perturbation("noise", "sigma", (0.0, 0.1, 0.2, 0.3, 0.4, 0.5), 0.0, gaussian_noise,
                 "Gaussian noise of this standard deviation added to each pixel (0 black, 1 white), clipped."),
    Perturbation("contrast", "factor", (1.0, 0.75, 0.5, 0.25, 0.1), 1.0, contrast,
                 "Each digit faded towards mid-grey: 1 is the original, 0.1 keeps a tenth of its contrast."),
)}
PERTURBATION_NAMES = tuple(PERTURBATIONS)


def perturbation(name: str) -> Perturbation:
    """The perturbation called `name`.

    Raises:
        ValueError: if there is none, naming the ones there are.
    """
    if name not in PERTURBATIONS:
        raise ValueError(f"Received an unknown `perturbation`: {name!r}. Pick one of {', '.join(PERTURBATION_NAMES)}.")
    return PERTURBATIONS[name]
