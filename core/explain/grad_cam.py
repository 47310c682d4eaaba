"""Grad-CAM: which regions of the last convolution's feature maps raised the target's logit.

Selvaraju et al. (2017). Each feature map of the last Conv2D layer is weighted by the mean
gradient of the target logit over it; the weighted sum, with negative values cut to zero, says
where the features that support the target class are. That map is coarser than the input (8×8
for the shipped model, 14×14 or 10×10 for others) and is placed back over the 28×28 image at the
centres of each position's receptive field, by bilinear interpolation. Conv models only.
"""

from __future__ import annotations

import numpy as np

from core.data.mnist import IMAGE_SHAPE
from core.explain.logit_gradients import LogitModel
from core.models.numpy_model_layers import LayerSpec, UnsupportedModel, same_padding

BATCH_SIZE = 128  # images per backward pass (bounded memory, as integrated gradients)
POINTWISE = ("Rescaling", "Normalization", "BatchNormalization", "Activation", "ReLU")


def receptive_field_centres(layers: tuple[LayerSpec, ...], input_size: int, axis: int) -> tuple[float, float]:
    """`(scale, offset)`: output position `i` of the last of `layers` is centred on input position `scale * i + offset`.

    Raises:
        UnsupportedModel: if a layer on the way is neither pointwise nor a convolution or pooling.
    """
    scale, offset, size = 1.0, 0.0, input_size
    for layer in layers:
        if layer.class_name in POINTWISE:
            continue
        if layer.class_name == "Conv2D":
            window = layer.weights["kernel"].shape[axis]
            stride = layer.config["strides"][axis]
        elif layer.class_name in ("MaxPooling2D", "AveragePooling2D"):
            window = layer.config["pool_size"][axis]
            stride = (layer.config["strides"] or layer.config["pool_size"])[axis]
        else:
            raise UnsupportedModel(f"Grad-CAM cannot place layer `{layer.name}` ({layer.class_name}) over the input")
        before = same_padding(size, window, stride)[0] if layer.config["padding"] == "same" else 0
        offset += scale * ((window - 1) / 2 - before)  # this layer's output j sits on its input stride * j + that
        scale *= stride
        size = -(-size // stride) if layer.config["padding"] == "same" else (size - window) // stride + 1
    return scale, offset


def place_over_input(maps: np.ndarray, scales: tuple[tuple[float, float], tuple[float, float]]) -> np.ndarray:
    """Bilinear interpolation of `(n, h, w)` maps at every input pixel, edges held beyond the outer centres."""
    n, height, width = maps.shape
    (row_scale, row_offset), (column_scale, column_offset) = scales
    rows = np.clip((np.arange(IMAGE_SHAPE[0]) - row_offset) / row_scale, 0, height - 1)
    columns = np.clip((np.arange(IMAGE_SHAPE[1]) - column_offset) / column_scale, 0, width - 1)
    top = np.minimum(rows.astype(int), height - 2) if height > 1 else np.zeros(len(rows), int)
    left = np.minimum(columns.astype(int), width - 2) if width > 1 else np.zeros(len(columns), int)
    down = (rows - top)[:, None] if height > 1 else np.zeros((len(rows), 1))
    right = (columns - left)[None, :] if width > 1 else np.zeros((1, len(columns)))
    bottom, right_edge = np.minimum(top + 1, height - 1), np.minimum(left + 1, width - 1)
    at = lambda r, c: maps[:, r][:, :, c]  # noqa: E731  (n, 28, 28)
    upper = at(top, left) * (1 - right) + at(top, right_edge) * right
    lower = at(bottom, left) * (1 - right) + at(bottom, right_edge) * right
    return (upper * (1 - down) + lower * down).astype(np.float32)


def grad_cam(model: LogitModel, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Grad-CAM of each image's target logit, over the last Conv2D layer, placed over the 28×28 input.

    Args:
        model: the model, run up to its logits; it must have a Conv2D layer.
        images: float array `(n, 28, 28)` with values in `[0, 1]`.
        targets: int array `(n,)`, the class each map is about.

    Returns:
        float32 `(n, 28, 28)`, zero or positive: where the features supporting the target are.

    Raises:
        UnsupportedModel: if the model has no convolution (use occlusion or integrated gradients).
    """
    if model.last_conv_index is None:
        raise UnsupportedModel("Grad-CAM needs a convolutional model, and this one has no Conv2D layer; "
                               "use occlusion or integrated gradients")
    on_the_way = model.layers[: model.last_conv_index + 1]
    scales = tuple(receptive_field_centres(on_the_way, IMAGE_SHAPE[axis], axis) for axis in (0, 1))
    images = np.asarray(images, dtype=np.float32).reshape(-1, *IMAGE_SHAPE, 1)
    targets = np.asarray(targets)
    maps = []
    for start in range(0, len(images), BATCH_SIZE):
        found = model.gradients(images[start: start + BATCH_SIZE], targets[start: start + BATCH_SIZE],
                                layer_index=model.last_conv_index)
        weights = found.layer_gradient.mean(axis=(1, 2))  # (n, channels)
        maps.append(np.maximum(np.einsum("nhwc,nc->nhw", found.layer_output, weights), 0.0))
    return place_over_input(np.concatenate(maps), scales)
