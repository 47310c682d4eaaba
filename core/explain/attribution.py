"""The attribution methods by name, what their colours mean, and one call for a page or a benchmark.

Every map is about one target class (the prediction by default, any digit on request: "what would
make it a 4?") and has the 28×28 shape of the input; a positive value means "this pixel's ink
raised the target's score", a negative one "it lowered it".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.data.mnist import IMAGE_SHAPE, NUM_CLASSES
from core.models.blas_threads import one_blas_thread
from core.explain.grad_cam import grad_cam
from core.explain.integrated_gradients import integrated_gradients
from core.explain.logit_gradients import LogitModel
from core.explain.occlusion import occlusion


@dataclass(frozen=True)
class Method:
    """One attribution method, as the pages offer it.

    Attributes:
        name: its key, e.g. `"integrated_gradients"`.
        title: what a menu shows.
        legend: one line saying what the colours mean; `{target}` stands for the target digit.
        compute: `(model, images (n, 28, 28), targets (n,)) -> maps (n, 28, 28)`.
        needs_conv: True for a method only a convolutional model has (Grad-CAM).
        signed: True when the map has negative values (drawn blue) as well as positive ones (red).
        contrast: how its overlay's opacity grows with the value (`core.figures.attribution_overlay`):
            0.5 for pixel-sharp maps, 1.0 for a smooth one that is above zero almost everywhere.
    """

    name: str
    title: str
    legend: str
    compute: Callable[[LogitModel, np.ndarray, np.ndarray], np.ndarray]
    needs_conv: bool = False
    signed: bool = True
    contrast: float = 0.5


METHODS: dict[str, Method] = {
    method.name: method
    for method in [
        Method(
            name="integrated_gradients",
            title="Integrated gradients",
            legend="Red: ink that raised the model's score for {target}; blue: ink that lowered it. "
                   "Stronger colour, bigger share (integrated gradients from a black image).",
            compute=integrated_gradients,
        ),
        Method(
            name="occlusion",
            title="Occlusion",
            legend="Red: covering this spot with black lowers the score for {target} (it supports {target}); "
                   "blue: covering it raises that score.",
            compute=occlusion,
        ),
        Method(
            name="grad_cam",
            title="Grad-CAM",
            legend="Red: regions whose features the last convolution found for {target}, strongest deepest "
                   "(Grad-CAM; coarse, and shows no evidence against).",
            compute=grad_cam,
            needs_conv=True,
            signed=False,
            contrast=1.0,
        ),
    ]
}


@dataclass(frozen=True)
class Attribution:
    """One image's attribution map.

    Attributes:
        method: the method's name (a key of `METHODS`).
        target: the digit the map is about.
        predicted: the digit the model predicts for the image.
        values: float32 `(28, 28)`; > 0 raised the target's logit, < 0 lowered it.
        legend: what the colours mean, for this target.
    """

    method: str
    target: int
    predicted: int
    values: np.ndarray
    legend: str


def methods_for(model: LogitModel) -> list[str]:
    """The names of the methods `model` supports (Grad-CAM only for a model with a convolution)."""
    return [name for name, method in METHODS.items() if not method.needs_conv or model.last_conv_index is not None]


def check_method(model: LogitModel, method: str) -> Method:
    """The `Method` called `method`, if `model` supports it.

    Raises:
        ValueError: naming the method and the ones that apply.
    """
    if method not in methods_for(model):
        raise ValueError(f"Received an invalid value for `method`, expected one of {methods_for(model)} for this "
                         f"model. Received: method={method!r}")
    return METHODS[method]


def attribute(model: LogitModel, images: np.ndarray, method: str, targets: np.ndarray | None = None) -> np.ndarray:
    """Attribution maps of a batch of images.

    Args:
        model: the model, run up to its logits.
        images: float array `(n, 28, 28)` or `(n, 28, 28, 1)` with values in `[0, 1]`.
        method: a key of `METHODS` that `methods_for(model)` lists.
        targets: int array `(n,)`, the class each map is about; None = each image's prediction.

    Returns:
        float32 `(n, 28, 28)`.

    Raises:
        ValueError: for an unknown method, images of another shape, or a target that is no digit.
    """
    chosen = check_method(model, method)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4) or images.shape[1:3] != IMAGE_SHAPE or (images.ndim == 4 and images.shape[3] != 1):
        raise ValueError(f"`images` must have shape (n, 28, 28) or (n, 28, 28, 1). Received: images.shape={images.shape}")
    images = images.reshape(-1, *IMAGE_SHAPE)
    with one_blas_thread():  # hundreds of small matmuls: faster on one thread (see blas_threads.py)
        if targets is None:
            targets = model.logits(images[..., None]).argmax(axis=1)
        targets = np.asarray(targets)
        if targets.shape != (len(images),) or targets.dtype.kind not in "iu" or targets.min(initial=0) < 0 \
                or targets.max(initial=0) >= NUM_CLASSES:
            raise ValueError(f"`targets` must hold one digit 0..9 per image ({len(images)}). Received: targets={targets!r}")
        return chosen.compute(model, images, targets)


def explain(model: LogitModel, image: np.ndarray, method: str, target: int | None = None) -> Attribution:
    """One image's attribution map toward `target` (the prediction when None), with its legend.

    Args:
        model: the model, run up to its logits.
        image: float array `(28, 28)` or `(28, 28, 1)` with values in `[0, 1]`.
        method: a key of `METHODS` that `methods_for(model)` lists.
        target: a digit 0..9, or None for the model's prediction.

    Returns:
        An `Attribution`.

    Raises:
        ValueError: for an unknown method, an image of another shape, or a target that is no digit.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.shape not in (IMAGE_SHAPE, (*IMAGE_SHAPE, 1)):
        raise ValueError(f"`image` must have shape (28, 28) or (28, 28, 1). Received: image.shape={image.shape}")
    if target is not None and (not isinstance(target, (int, np.integer)) or not 0 <= target < NUM_CLASSES):
        raise ValueError(f"`target` must be a digit 0..9, or None for the prediction. Received: target={target!r}")
    image = image.reshape(1, *IMAGE_SHAPE)
    with one_blas_thread():
        predicted = int(model.logits(image[..., None]).argmax())
    target = predicted if target is None else int(target)
    values = attribute(model, image, method, np.array([target]))[0]
    return Attribution(method, target, predicted, values, METHODS[method].legend.format(target=target))
