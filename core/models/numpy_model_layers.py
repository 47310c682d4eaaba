"""Each layer kind's inference computation in NumPy, built from a layer's saved config and weights.

The runtime half of the NumPy models: `core.models.numpy_model` keeps a model as a list of
`LayerSpec`s (a Keras class name, the config fields below, float32 weights) and runs it with the
functions built here. Nothing here imports Keras or TensorFlow: the web server runs saved models
with it. `core.models.numpy_forward` (which reads Keras models) makes the `LayerSpec`s.

Inference only: batch normalization uses its moving statistics, exactly as
`model(x, training=False)`; training-only layers (dropout, augmentation) are never saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Forward = Callable[[np.ndarray], np.ndarray]


class UnsupportedModel(ValueError):
    """A model holds a layer or setting that has no NumPy translation; use TensorFlow for it."""


@dataclass(frozen=True)
class LayerSpec:
    """One layer as NumPy runs it.

    Attributes:
        class_name: the Keras layer class, e.g. `"Conv2D"` (a key of `LAYER_BUILDERS`).
        name: the layer's name in the Keras model, e.g. `"conv2d_1"`.
        config: the config fields its computation reads (`CONFIG_FIELDS[class_name]`), JSON values.
        weights: its arrays by Keras weight name (`"kernel"`, `"bias"`, `"moving_mean"`, ...),
            float32 and read-only.
    """

    class_name: str
    name: str
    config: dict
    weights: dict[str, np.ndarray]


# The config fields each layer kind's computation uses: all that a saved model keeps.
CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "Conv2D": ("strides", "padding", "dilation_rate", "groups", "activation"),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "AveragePooling2D": ("pool_size", "strides", "padding"),
    "Dense": ("activation",),
    "BatchNormalization": ("epsilon",),
    "Rescaling": ("scale", "offset"),
    "Normalization": ("invert",),
    "Flatten": (),
    "Reshape": ("target_shape",),
    "Activation": ("activation",),
    "ReLU": ("max_value", "negative_slope", "threshold"),
    "Softmax": ("axis",),
}


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


def activation_function(spec: LayerSpec, name) -> Forward | None:
    """A Keras activation, by its name, as a NumPy function (None for `linear`)."""
    if name == "linear":
        return None
    if name not in ACTIVATIONS:
        raise UnsupportedModel(f"layer `{spec.name}` uses activation {name!r}, which has no NumPy translation")
    return ACTIVATIONS[name]


# Activations that may overwrite their input: used on a layer's own fresh output, never on a layer's input.
IN_PLACE_ACTIVATIONS: dict[str, Forward] = {
    "relu": lambda x: np.maximum(x, 0, out=x),
}


def with_activation(spec: LayerSpec, compute: Forward) -> Forward:
    """`compute` followed by the layer's own `activation`, if it has one (in place where it can be: `compute`'s output is its own)."""
    name = spec.config["activation"]
    activation = activation_function(spec, name)
    if activation is None:
        return compute
    activation = IN_PLACE_ACTIVATIONS.get(name, activation)
    return lambda x: activation(compute(x))


def same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding along one axis: (before, after), the extra one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def padded(x: np.ndarray, window: tuple[int, int], strides: tuple[int, int], padding: str, fill: float) -> np.ndarray:
    """`x` (n, h, w, c) with TensorFlow's "same" padding of `fill` around its rows and columns (as it is for "valid")."""
    if padding == "same":
        (top, bottom), (left, right) = (same_padding(x.shape[axis], window[axis - 1], strides[axis - 1])
                                        for axis in (1, 2))
        if top or bottom or left or right:
            x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    return x


def windows(x: np.ndarray, window: tuple[int, int], strides: tuple[int, int], padding: str,
            fill: float) -> np.ndarray:
    """Every `window` patch of `x` (n, h, w, c) at `strides`: a view of shape (n, oh, ow, c, kh, kw)."""
    patches = np.lib.stride_tricks.sliding_window_view(padded(x, window, strides, padding, fill), window, axis=(1, 2))
    return patches[:, ::strides[0], ::strides[1]]


def tiles(x: np.ndarray, pool: tuple[int, int]) -> np.ndarray:
    """`x` (n, h, w, c) cut into non-overlapping `pool` tiles: (n, h // ph, ph, w // pw, pw, c).

    Rows and columns left over at the bottom and right are dropped, as "valid" pooling does.
    """
    n, height, width, channels = x.shape
    rows, columns = height // pool[0], width // pool[1]
    x = x[:, : rows * pool[0], : columns * pool[1]]
    return x.reshape(n, rows, pool[0], columns, pool[1], channels)


def largest(parts: list[np.ndarray]) -> np.ndarray:
    """The elementwise maximum of same-shaped arrays, as a new array."""
    if len(parts) == 1:
        return parts[0].copy()
    out = np.maximum(parts[0], parts[1])
    for part in parts[2:]:
        np.maximum(out, part, out=out)
    return out


def max_pool_tiles(x: np.ndarray, pool: tuple[int, int]) -> np.ndarray:
    """Max pooling over non-overlapping `pool` tiles of `x` (n, h, w, c): (n, h // ph, w // pw, c).

    Rows first, then columns, each step an elementwise maximum of whole runs of `w * c` or `c`
    values (~3x faster than a reduction over a tile's two axes, and the same maxima).
    """
    tiled = tiles(x, pool)  # (n, rows, ph, columns, pw, c)
    rows = largest([tiled[:, :, i] for i in range(pool[0])])  # (n, rows, columns, pw, c)
    return largest([rows[:, :, :, j] for j in range(pool[1])]) if pool[1] > 1 else rows[:, :, :, 0]


def padding_of(spec: LayerSpec) -> str:
    padding = spec.config["padding"]
    if padding not in ("valid", "same"):
        raise UnsupportedModel(f"layer `{spec.name}` uses padding={padding!r}; only 'valid' and 'same' are translated")
    return padding


@dataclass(frozen=True)
class Convolution:
    """A Conv2D layer's weights as one matrix over its patches, and how it slides (its activation aside).

    The layer is one matrix product, `patches @ matrix`, with the patches laid out the way BLAS and
    NumPy's copies like them: with several input channels each patch row is `(kh, kw, c)`, so a
    kernel row's `kw * c` values are one contiguous run of the input; with one input channel (the
    first layer of a CNN) the patch matrix is built transposed, `kh * kw` rows each one shifted
    slice of the images (runs of a whole output row), and handed to BLAS as its transpose (no copy).
    """

    matrix: np.ndarray  # (kh * kw * c_in, c_out), rows as (kh, kw, c): the Keras kernel, flattened
    bias: np.ndarray | None
    window: tuple[int, int]
    strides: tuple[int, int]
    padding: str

    def patch_matrix(self, x: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
        """`(patches, (n, oh, ow))`: every patch of `x` (n, h, w, c_in) as a row `(kh, kw, c)` of an `(n * oh * ow, kh * kw * c_in)` matrix."""
        x = padded(x, self.window, self.strides, self.padding, 0.0)
        n, height, width, channels = x.shape
        (kh, kw), (sh, sw) = self.window, self.strides
        oh, ow = (height - kh) // sh + 1, (width - kw) // sw + 1
        if channels == 1:
            shifted = np.empty((kh * kw, n, oh, ow), x.dtype)  # row (i, j): every image moved by (i, j)
            for i in range(kh):
                for j in range(kw):
                    shifted[i * kw + j] = x[:, i: i + (oh - 1) * sh + 1: sh, j: j + (ow - 1) * sw + 1: sw, 0]
            return shifted.reshape(kh * kw, n * oh * ow).T, (n, oh, ow)
        patches = np.lib.stride_tricks.sliding_window_view(x, self.window, axis=(1, 2))[:, ::sh, ::sw]
        rows = patches.transpose(0, 1, 2, 4, 5, 3)  # (n, oh, ow, kh, kw, c): kw and c side by side in x
        return rows.reshape(n * oh * ow, kh * kw * channels), (n, oh, ow)

    def product(self, x: np.ndarray) -> np.ndarray:
        """The layer's output before its bias and activation, for `x` (n, h, w, c_in): (n, oh, ow, c_out)."""
        patches, (n, oh, ow) = self.patch_matrix(x)
        return (patches @ self.matrix).reshape(n, oh, ow, self.matrix.shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The layer's output before its activation, for `x` (n, h, w, c_in)."""
        out = self.product(x)
        if self.bias is not None:
            out += self.bias
        return out


def convolution_of(spec: LayerSpec) -> Convolution:
    config = spec.config
    if tuple(config["dilation_rate"]) != (1, 1) or config.get("groups", 1) != 1:
        raise UnsupportedModel(f"layer `{spec.name}`: dilated or grouped convolutions have no NumPy translation")
    kernel = spec.weights["kernel"]  # (kh, kw, c_in, c_out)
    kh, kw, c_in, c_out = kernel.shape
    matrix = np.ascontiguousarray(kernel.reshape(kh * kw * c_in, c_out))  # no copy of a C-ordered kernel
    return Convolution(matrix, spec.weights.get("bias"), (kh, kw), tuple(config["strides"]), padding_of(spec))


def build_conv2d(spec: LayerSpec) -> Forward:
    return with_activation(spec, convolution_of(spec))


def build_pooling(spec: LayerSpec) -> Forward:
    pool = tuple(spec.config["pool_size"])
    strides = tuple(spec.config["strides"] or pool)
    padding = padding_of(spec)
    if spec.class_name == "MaxPooling2D":
        if padding == "valid" and strides == pool:  # the usual tiling: a reshape is ~10x faster than windows
            return lambda x: max_pool_tiles(x, pool)
        return lambda x: windows(x, pool, strides, padding, -np.inf).max(axis=(4, 5))
    if padding != "valid":
        raise UnsupportedModel(f"layer `{spec.name}`: average pooling with padding='same' has no NumPy translation")
    return lambda x: windows(x, pool, strides, padding, 0.0).mean(axis=(4, 5), dtype=np.float32)


def build_dense(spec: LayerSpec) -> Forward:
    kernel, bias = spec.weights["kernel"], spec.weights.get("bias")
    if bias is None:
        return with_activation(spec, lambda x: x @ kernel)
    return with_activation(spec, lambda x: x @ kernel + bias)


def build_batch_normalization(spec: LayerSpec) -> Forward:
    weights = spec.weights
    scale = 1.0 / np.sqrt(weights["moving_variance"] + np.float32(spec.config["epsilon"]))
    if "gamma" in weights:
        scale = scale * weights["gamma"]
    shift = -weights["moving_mean"] * scale
    if "beta" in weights:
        shift = shift + weights["beta"]
    scale, shift = scale.astype(np.float32), shift.astype(np.float32)
    return lambda x: x * scale + shift


def build_rescaling(spec: LayerSpec) -> Forward:
    scale = np.asarray(spec.config["scale"], dtype=np.float32)
    offset = np.asarray(spec.config["offset"], dtype=np.float32)
    return lambda x: x * scale + offset


def build_normalization(spec: LayerSpec) -> Forward:
    if spec.config.get("invert"):
        raise UnsupportedModel(f"layer `{spec.name}`: an inverted Normalization has no NumPy translation")
    mean = spec.weights["mean"]
    std = np.maximum(np.sqrt(spec.weights["variance"]), np.float32(1e-7))  # Keras's epsilon
    return lambda x: (x - mean) / std


def build_flatten(spec: LayerSpec) -> Forward:
    return lambda x: x.reshape(len(x), -1)  # channels_last, row-major: Keras's own order


def build_reshape(spec: LayerSpec) -> Forward:
    target = tuple(spec.config["target_shape"])
    return lambda x: x.reshape(len(x), *target)


def build_activation(spec: LayerSpec) -> Forward:
    return activation_function(spec, spec.config["activation"]) or (lambda x: x)


def build_relu(spec: LayerSpec) -> Forward:
    config = spec.config
    if config.get("max_value") is not None or config.get("negative_slope") or config.get("threshold"):
        raise UnsupportedModel(f"layer `{spec.name}`: a ReLU with max_value, slope or threshold")
    return ACTIVATIONS["relu"]


def build_softmax(spec: LayerSpec) -> Forward:
    if spec.config.get("axis", -1) not in (-1, [-1]):
        raise UnsupportedModel(f"layer `{spec.name}`: softmax over axis {spec.config['axis']}")
    return softmax


LAYER_BUILDERS: dict[str, Callable[[LayerSpec], Forward]] = {
    "Conv2D": build_conv2d,
    "MaxPooling2D": build_pooling,
    "AveragePooling2D": build_pooling,
    "Dense": build_dense,
    "BatchNormalization": build_batch_normalization,
    "Rescaling": build_rescaling,
    "Normalization": build_normalization,
    "Flatten": build_flatten,
    "Reshape": build_reshape,
    "Activation": build_activation,
    "ReLU": build_relu,
    "Softmax": build_softmax,
}


def pooled_convolution(conv: LayerSpec, pool: LayerSpec) -> Forward | None:
    """A Conv2D layer and the tiled max pooling after it as one step, or None where they cannot be fused.

    `max_pool(relu(conv(x) + bias))` is computed as `relu(max_pool(conv(x)) + bias)`: the bias and
    the ReLU then touch a quarter of the values. The two are the same numbers, not just close:
    adding a constant and taking the ReLU never change which value of a tile is largest (float
    addition and `max(x, 0)` are monotone), so the maximum can be taken first.
    """
    activation = conv.config.get("activation")
    if (conv.class_name != "Conv2D" or pool.class_name != "MaxPooling2D" or activation not in ("relu", "linear")
            or padding_of(pool) != "valid" or tuple(pool.config["strides"] or pool.config["pool_size"]) != tuple(pool.config["pool_size"])):
        return None
    convolution = convolution_of(conv)
    window = tuple(pool.config["pool_size"])

    def step(x: np.ndarray) -> np.ndarray:
        out = max_pool_tiles(convolution.product(x), window)
        if convolution.bias is not None:
            out += convolution.bias
        return np.maximum(out, 0, out=out) if activation == "relu" else out

    return step


def build_steps(layers: Sequence[LayerSpec]) -> list[Forward]:
    """The functions computing a model's inference output, input side first: each layer's
    (`build_layer`), but a convolution and the tiled max pooling right after it as one step
    (`pooled_convolution`). Only the model's output is the same: use `build_layer` for what a layer outputs.

    Raises:
        UnsupportedModel: if a layer or one of its settings has no NumPy translation.
    """
    steps, index = [], 0
    while index < len(layers):
        fused = pooled_convolution(*layers[index: index + 2]) if index + 1 < len(layers) else None
        if fused is not None:
            build_layer(layers[index + 1])  # its checks
            steps.append(fused)
            index += 2
        else:
            steps.append(build_layer(layers[index]))
            index += 1
    return steps


def build_layer(spec: LayerSpec) -> Forward:
    """The NumPy function computing one layer's inference output.

    Args:
        spec: the layer's kind, config and weights.

    Returns:
        A function from the layer's float32 input `(n, ...)` to its output.

    Raises:
        UnsupportedModel: if the kind or one of its settings has no NumPy translation.
    """
    if spec.class_name not in LAYER_BUILDERS:
        raise UnsupportedModel(f"layer `{spec.name}` of type {spec.class_name} has no NumPy translation")
    return LAYER_BUILDERS[spec.class_name](spec)
