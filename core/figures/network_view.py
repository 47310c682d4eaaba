"""Look inside a trained model: its conv filters, its feature maps, its input weights.

Every function takes either a `core.models.numpy_model.NumpyModel` (what the web server
loads: no TensorFlow) or a Keras model (an old run without a NumPy file; Keras is imported only
then), and gives the same arrays for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.mnist import IMAGE_SHAPE
from core.models.numpy_model import NumpyModel


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


def conv_kernels(model) -> list[tuple[str, np.ndarray]]:
    """`(name, kernel)` of every Conv2D layer, input side first; kernels `(kh, kw, in_channels, n_filters)`."""
    if isinstance(model, NumpyModel):
        return [(layer.name, layer.weights["kernel"]) for layer in model.layers if layer.class_name == "Conv2D"]
    return [(layer.name, layer.kernel.numpy()) for layer in keras_conv_layers(model)]


def keras_conv_layers(model) -> list:
    """A Keras model's Conv2D layers, input side first."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def conv_filters(model) -> list[LayerFilters]:
    """The filters every Conv2D layer learned, as small images.

    A filter of the first layer sees the one grey channel, so it is a `(kh, kw)` image as is.
    A filter of a later layer has one `(kh, kw)` slice per input channel (per filter of the
    layer before); it is shown as the mean of those slices, which says where the filter
    looks but not which earlier features it combines.

    Args:
        model: a `NumpyModel` or a built Keras model.

    Returns:
        One `LayerFilters` per Conv2D layer, input side first, each with a float32 array of
        shape `(n_filters, kh, kw)`. Empty for a model without Conv2D layers.
    """
    result = []
    for name, kernel in conv_kernels(model):  # (kh, kw, in_channels, n_filters)
        filters = kernel.mean(axis=2).transpose(2, 0, 1)  # (n_filters, kh, kw)
        result.append(LayerFilters(name=name, filters=filters.astype(np.float32)))
    return result


def feature_maps(model, image: np.ndarray) -> list[LayerMaps]:
    """What every Conv2D layer outputs for one image, activation included.

    For a Keras model this builds a throwaway `keras.Model` from the model's input to its Conv2D
    layers' outputs on every call; nothing is cached. Training-only layers (dropout,
    augmentation) run in inference mode.

    Args:
        model: a `NumpyModel` or a built Keras model whose input is `(batch, 28, 28, 1)`, e.g. a
            zoo model.
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
    batch = image.reshape(1, *IMAGE_SHAPE, 1)
    if isinstance(model, NumpyModel):
        return [LayerMaps(name=layer.name, maps=output[0]) for layer, output in model.layer_outputs(batch, "Conv2D")]
    return keras_feature_maps(model, batch)


def keras_feature_maps(model, batch: np.ndarray) -> list[LayerMaps]:
    """`feature_maps` of a Keras model for a `(1, 28, 28, 1)` batch."""
    import keras

    layers = keras_conv_layers(model)
    if not layers:
        return []
    probe = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in layers])
    outputs = probe([batch], training=False)  # as `model.inputs`: a list
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [
        LayerMaps(name=layer.name, maps=keras.ops.convert_to_numpy(output)[0].astype(np.float32))
        for layer, output in zip(layers, outputs)
    ]


def first_dense_kernel(model) -> np.ndarray | None:
    """The first Dense layer's kernel `(inputs, units)`, or None for a model without one."""
    if isinstance(model, NumpyModel):
        return next((layer.weights["kernel"] for layer in model.layers if layer.class_name == "Dense"), None)
    import keras

    dense = next((layer for layer in model.layers if isinstance(layer, keras.layers.Dense)), None)
    return None if dense is None else dense.kernel.numpy()


def dense_input_weights(model) -> np.ndarray | None:
    """The first Dense layer's weights as one 28x28 image per unit, for models without convs.

    For softmax regression these are the ten templates the model matches an image against:
    positive where ink makes a digit more likely. For an MLP they are what each first-layer
    unit looks for. Weights apply to the pixels the Dense layer sees, so for a preset trained
    on raw pixels (a `Rescaling(255)` layer in front) they are per 0..255 pixel value.

    Args:
        model: a `NumpyModel` or a built Keras model.

    Returns:
        float32 array of shape `(units, 28, 28)`: unit `u`'s weight for pixel `(row, col)` at
        `[u, row, col]`. `None` when the model has a Conv2D layer, no Dense layer, or a first
        Dense layer that does not see the 784 pixels directly.
    """
    if conv_kernels(model):
        return None
    kernel = first_dense_kernel(model)  # (784, units)
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if kernel is None or kernel.shape[0] != pixels:
        return None
    return kernel.T.reshape(-1, *IMAGE_SHAPE).astype(np.float32)  # Flatten is row-major
