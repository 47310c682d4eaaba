"""A trained Keras classifier's forward pass in plain NumPy, for one drawing at a time.

A `tf.function` call of even a tiny CNN costs ~3 ms here: TensorFlow's runtime dispatches
every op to its thread pool, and on two cores that pool is shared with any training in
progress. The arithmetic of the shipped model is 2.4 MFLOP, a fraction of a millisecond in
NumPy. `compile_forward` reads a `keras.Sequential` model's weights once and returns a function
that runs the same layers with NumPy matmuls; `core.drawing.live_prediction.DigitPredictor` checks it
against the Keras model before using it, and keeps TensorFlow for anything it cannot translate.

Inference only: dropout, noise and augmentation layers are the identity, batch normalization
uses its moving statistics, exactly as `model(x, training=False)`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Forward = Callable[[np.ndarray], np.ndarray]

# Layers that do nothing when not training.
INFERENCE_IDENTITY = {
    "InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "RandomRotation", "RandomZoom", "RandomTranslation",
    "RandomFlip", "RandomContrast", "RandomBrightness", "RandomCrop",
}


class UnsupportedModel(ValueError):
    """The model holds something `compile_forward` cannot translate; use TensorFlow for it."""


def compile_forward(model) -> Forward:
    """Translate a Keras `Sequential` model into a NumPy function computing its inference output.

    Args:
        model: a built `keras.Sequential` made of Rescaling, Normalization, Conv2D, MaxPooling2D,
            AveragePooling2D (valid padding), Flatten, Reshape, Dense, BatchNormalization,
            Activation, ReLU, Softmax and inference-time identities (Dropout, Random*).

    Returns:
        A function from a float32 array `(n, *model input shape)` to the model's output as a
        float32 array, equal to `model(x, training=False)` up to float32 rounding.

    Raises:
        UnsupportedModel: naming the first layer (or setting) it cannot translate.
    """
    if type(model).__name__ != "Sequential":
        raise UnsupportedModel(f"only `keras.Sequential` models are translated. Received: {type(model).__name__}")
    steps = [step for step in (translate_layer(layer) for layer in model.layers) if step is not None]

    def forward(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        for step in steps:
            x = step(x)
        return x.astype(np.float32, copy=False)

    return forward


def translate_layer(layer) -> Forward | None:
    """One layer's inference computation as a NumPy function (None for an identity)."""
    kind = type(layer).__name__
    if kind in INFERENCE_IDENTITY:
        return None
    if kind not in TRANSLATORS:
        raise UnsupportedModel(f"layer `{layer.name}` of type {kind} has no NumPy translation")
    config = layer.get_config()
    if config.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedModel(f"layer `{layer.name}` uses data_format={config['data_format']!r}")
    weights = {w.name: np.asarray(w.numpy(), dtype=np.float32) for w in layer.weights}
    return TRANSLATORS[kind](layer, config, weights)


def activation_function(layer, name: str) -> Forward | None:
    """A Keras activation, by its name, as a NumPy function (None for `linear`)."""
    if name == "linear":
        return None
    if name not in ACTIVATIONS:
        raise UnsupportedModel(f"layer `{layer.name}` uses activation {name!r}, which has no NumPy translation")
    return ACTIVATIONS[name]


def with_activation(layer, compute: Forward) -> Forward:
    """`compute` followed by the layer's own `activation`, if it has one."""
    name = getattr(layer.activation, "__name__", str(layer.activation))
    activation = activation_function(layer, name)
    if activation is None:
        return compute
    return lambda x: activation(compute(x))


def softmax(x: np.ndarray) -> np.ndarray:
    exp = np.exp(x - x.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, below float32 rounding of the sum)."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-x * x))).astype(np.float32)


ACTIVATIONS: dict[str, Forward] = {
    "relu": lambda x: np.maximum(x, 0, dtype=np.float32),
    "sigmoid": lambda x: (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32),  # no overflow for large |x|
    "tanh": np.tanh,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(np.float32),
    "gelu": lambda x: (0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))).astype(np.float32),  # Keras's exact form
    "softmax": softmax,
}


def same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding along one axis: (before, after), the extra one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def windows(x: np.ndarray, window: tuple[int, int], strides: tuple[int, int], padding: str,
            fill: float) -> np.ndarray:
    """Every `window` patch of `x` (n, h, w, c) at `strides`: a view of shape (n, oh, ow, c, kh, kw)."""
    if padding == "same":
        (top, bottom), (left, right) = (same_padding(x.shape[axis], window[axis - 1], strides[axis - 1])
                                        for axis in (1, 2))
        if top or bottom or left or right:
            x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    patches = np.lib.stride_tricks.sliding_window_view(x, window, axis=(1, 2))
    return patches[:, ::strides[0], ::strides[1]]


def tiles(x: np.ndarray, pool: tuple[int, int]) -> np.ndarray:
    """`x` (n, h, w, c) cut into non-overlapping `pool` tiles: (n, h // ph, ph, w // pw, pw, c).

    Rows and columns left over at the bottom and right are dropped, as "valid" pooling does.
    """
    n, height, width, channels = x.shape
    rows, columns = height // pool[0], width // pool[1]
    x = x[:, : rows * pool[0], : columns * pool[1]]
    return x.reshape(n, rows, pool[0], columns, pool[1], channels)


def translate_conv2d(layer, config: dict, weights: dict) -> Forward:
    if tuple(config["dilation_rate"]) != (1, 1) or config.get("groups", 1) != 1:
        raise UnsupportedModel(f"layer `{layer.name}`: dilated or grouped convolutions have no NumPy translation")
    kernel = weights["kernel"]  # (kh, kw, c_in, c_out)
    kh, kw, c_in, c_out = kernel.shape
    matrix = np.ascontiguousarray(kernel.transpose(2, 0, 1, 3).reshape(c_in * kh * kw, c_out))  # rows as (c, kh, kw)
    bias = weights.get("bias")
    strides, padding = tuple(config["strides"]), config["padding"]

    def convolve(x: np.ndarray) -> np.ndarray:
        patches = windows(x, (kh, kw), strides, padding, 0.0)  # (n, oh, ow, c_in, kh, kw)
        n, oh, ow = patches.shape[:3]
        out = patches.reshape(n * oh * ow, c_in * kh * kw) @ matrix
        if bias is not None:
            out += bias
        return out.reshape(n, oh, ow, c_out)

    return with_activation(layer, convolve)


def translate_pooling(layer, config: dict, weights: dict) -> Forward:
    pool = tuple(config["pool_size"])
    strides = tuple(config["strides"] or pool)
    padding = config["padding"]
    if type(layer).__name__ == "MaxPooling2D":
        if padding == "valid" and strides == pool:  # the usual tiling: a reshape is ~5x faster than windows
            return lambda x: tiles(x, pool).max(axis=(2, 4))
        return lambda x: windows(x, pool, strides, padding, -np.inf).max(axis=(4, 5))
    if padding != "valid":
        raise UnsupportedModel(f"layer `{layer.name}`: average pooling with padding='same' has no NumPy translation")
    return lambda x: windows(x, pool, strides, padding, 0.0).mean(axis=(4, 5), dtype=np.float32)


def translate_dense(layer, config: dict, weights: dict) -> Forward:
    kernel, bias = weights["kernel"], weights.get("bias")
    if bias is None:
        return with_activation(layer, lambda x: x @ kernel)
    return with_activation(layer, lambda x: x @ kernel + bias)


def translate_batch_normalization(layer, config: dict, weights: dict) -> Forward:
    if config["axis"] not in (-1, [-1], len(layer.input.shape) - 1, [len(layer.input.shape) - 1]):
        raise UnsupportedModel(f"layer `{layer.name}`: batch normalization over axis {config['axis']}")
    scale = 1.0 / np.sqrt(weights["moving_variance"] + np.float32(config["epsilon"]))
    if "gamma" in weights:
        scale = scale * weights["gamma"]
    shift = -weights["moving_mean"] * scale
    if "beta" in weights:
        shift = shift + weights["beta"]
    scale, shift = scale.astype(np.float32), shift.astype(np.float32)
    return lambda x: x * scale + shift


def translate_rescaling(layer, config: dict, weights: dict) -> Forward:
    scale = np.asarray(config["scale"], dtype=np.float32)
    offset = np.asarray(config["offset"], dtype=np.float32)
    return lambda x: x * scale + offset


def translate_normalization(layer, config: dict, weights: dict) -> Forward:
    if config.get("invert"):
        raise UnsupportedModel(f"layer `{layer.name}`: an inverted Normalization has no NumPy translation")
    mean = np.asarray(layer.mean, dtype=np.float32)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, dtype=np.float32)), np.float32(1e-7))  # Keras's epsilon
    return lambda x: (x - mean) / std


def translate_flatten(layer, config: dict, weights: dict) -> Forward:
    return lambda x: x.reshape(len(x), -1)  # channels_last, row-major: Keras's own order


def translate_reshape(layer, config: dict, weights: dict) -> Forward:
    target = tuple(config["target_shape"])
    return lambda x: x.reshape(len(x), *target)


def translate_activation(layer, config: dict, weights: dict) -> Forward:
    name = getattr(layer.activation, "__name__", str(config["activation"]))
    return activation_function(layer, name) or (lambda x: x)


def translate_relu(layer, config: dict, weights: dict) -> Forward:
    if config.get("max_value") is not None or config.get("negative_slope") or config.get("threshold"):
        raise UnsupportedModel(f"layer `{layer.name}`: a ReLU with max_value, slope or threshold")
    return ACTIVATIONS["relu"]


def translate_softmax(layer, config: dict, weights: dict) -> Forward:
    if config.get("axis", -1) not in (-1, [-1]):
        raise UnsupportedModel(f"layer `{layer.name}`: softmax over axis {config['axis']}")
    return softmax


TRANSLATORS = {
    "Conv2D": translate_conv2d,
    "MaxPooling2D": translate_pooling,
    "AveragePooling2D": translate_pooling,
    "Dense": translate_dense,
    "BatchNormalization": translate_batch_normalization,
    "Rescaling": translate_rescaling,
    "Normalization": translate_normalization,
    "Flatten": translate_flatten,
    "Reshape": translate_reshape,
    "Activation": translate_activation,
    "ReLU": translate_relu,
    "Softmax": translate_softmax,
}
