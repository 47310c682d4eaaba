"""Look inside a trained Keras model: its conv filters, its feature maps, its input weights."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from core.data.mnist import IMAGE_SHAPE


@dataclass(frozen=True)
class LayerFilters:
    """The filters of one Conv2D layer.

    `filters` is float32 `(n_filters, kh, kw)`; for a layer with several input channels
    each filter is averaged over its input channels.
    """

    name: str
    filters: np.ndarray


@dataclass(frozen=True)
class LayerMaps:
    """The output of one Conv2D layer for one image: float32 `(h, w, channels)`."""

    name: str
    maps: np.ndarray


def conv_layers(model: keras.Model) -> list[keras.layers.Conv2D]:
    """The model's Conv2D layers, input side first."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def conv_filters(model: keras.Model) -> list[LayerFilters]:
    """The filters every Conv2D layer learned, as small images.

    A filter of the first layer sees the one grey channel, so it is a `(kh, kw)` image as is.
    A filter of a later layer has one `(kh, kw)` slice per input channel (per filter of the
    layer before); it is shown as the mean of those slices, which says where the filter
    looks but not which earlier features it combines.

    Args:
        model: a built Keras model.

    Returns:
        One `LayerFilters` per Conv2D layer, input side first, each with a float32 array of
        shape `(n_filters, kh, kw)`. Empty for a model without Conv2D layers.
    """
    result = []
    for layer in conv_layers(model):
        kernel = layer.kernel.numpy()  # (kh, kw, in_channels, n_filters)
        filters = kernel.mean(axis=2).transpose(2, 0, 1)  # (n_filters, kh, kw)
        result.append(LayerFilters(name=layer.name, filters=filters.astype(np.float32)))
    return result


def feature_maps(model: keras.Model, image: np.ndarray) -> list[LayerMaps]:
    """What every Conv2D layer outputs for one image, activation included.

    Builds a throwaway `keras.Model` from the model's input to its Conv2D layers' outputs
    on every call; nothing is cached. Training-only layers (dropout, augmentation) run in
    inference mode.

    Args:
        model: a built Keras model whose input is `(batch, 28, 28, 1)`, e.g. a zoo model.
        image: float array of shape `(28, 28)` or `(28, 28, 1)` with values in `[0, 1]`,
            as `canvas_to_input` returns.

    Returns:
        One `LayerMaps` per Conv2D layer, input side first, each float32 `(h, w, channels)`.
        Empty for a model without Conv2D layers.

    Raises:
        ValueError: if `image` is not `(28, 28)` or `(28, 28, 1)`.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.shape not in (IMAGE_SHAPE, (*IMAGE_SHAPE, 1)):
        raise ValueError(
            f"`image` must have shape {IMAGE_SHAPE} or {(*IMAGE_SHAPE, 1)}. Received: image.shape={image.shape}"
        )
    layers = conv_layers(model)
    if not layers:
        return []
    probe = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in layers])
    outputs = probe([image.reshape(1, *IMAGE_SHAPE, 1)], training=False)  # as `model.inputs`: a list
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [
        LayerMaps(name=layer.name, maps=keras.ops.convert_to_numpy(output)[0].astype(np.float32))
        for layer, output in zip(layers, outputs)
    ]


def dense_input_weights(model: keras.Model) -> np.ndarray | None:
    """The first Dense layer's weights as one 28x28 image per unit, for models without convs.

    For softmax regression these are the ten templates the model matches an image against:
    positive where ink makes a digit more likely. For an MLP they are what each first-layer
    unit looks for. Weights apply to the pixels the Dense layer sees, so for a preset trained
    on raw pixels (a `Rescaling(255)` layer in front) they are per 0..255 pixel value.

    Args:
        model: a built Keras model.

    Returns:
        float32 array of shape `(units, 28, 28)`: unit `u`'s weight for pixel `(row, col)` at
        `[u, row, col]`. `None` when the model has a Conv2D layer, no Dense layer, or a first
        Dense layer that does not see the 784 pixels directly.
    """
    if conv_layers(model):
        return None
    dense = next((layer for layer in model.layers if isinstance(layer, keras.layers.Dense)), None)
    if dense is None:
        return None
    kernel = dense.kernel.numpy()  # (784, units)
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if kernel.shape[0] != pixels:
        return None
    return kernel.T.reshape(-1, *IMAGE_SHAPE).astype(np.float32)  # Flatten is row-major
