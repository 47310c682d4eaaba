"""Each NumPy layer kind's forward step, keeping what its backward step needs, and that backward step.

`core.models.numpy_model_layers` runs a saved layer forward only. Attribution needs the gradient
of a logit with respect to the input, so every layer kind the NumPy format holds gets here a
`forward(x) -> (y, cache)` that computes exactly the same output as the inference layer, and a
`backward(dy, cache) -> dx`: the gradient with respect to the layer's input given the gradient
with respect to its output (the chain rule; shapes as in the forward pass, batch first).

Max pooling sends a window's gradient to its first largest value, as TensorFlow does, so the
two agree even where a ReLU left a window of equal zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from core.models.numpy_model_layers import (
    ACTIVATIONS, LayerSpec, UnsupportedModel, convolution_of, erf, padding_of, same_padding, windows,
)

Cache = Any


@dataclass(frozen=True)
class DifferentiableStep:
    """One layer's forward step (`x -> (y, cache)`) and backward step (`(dy, cache) -> dx`)."""

    forward: Callable[[np.ndarray], tuple[np.ndarray, Cache]]
    backward: Callable[[np.ndarray, Cache], np.ndarray]


def activation_gradient(name: str, spec: LayerSpec) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """`(dy, z, a) -> dz` for the activation `name` (`a` = activation(z)).

    Raises:
        UnsupportedModel: for an activation without a NumPy translation.
    """
    if name == "linear":
        return lambda dy, z, a: dy
    if name == "relu":
        return lambda dy, z, a: dy * (z > 0)
    if name == "sigmoid":
        return lambda dy, z, a: dy * a * (1.0 - a)
    if name == "tanh":
        return lambda dy, z, a: dy * (1.0 - a * a)
    if name == "elu":
        return lambda dy, z, a: dy * np.where(z > 0, 1.0, a + 1.0).astype(np.float32)
    if name == "gelu":  # d/dz z·Φ(z) = Φ(z) + z·φ(z)
        return lambda dy, z, a: dy * (0.5 * (1.0 + erf(z / np.sqrt(2.0)))
                                      + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)).astype(np.float32)
    if name == "softmax":
        return lambda dy, z, a: a * (dy - (dy * a).sum(axis=-1, keepdims=True))
    raise UnsupportedModel(f"layer `{spec.name}` uses activation {name!r}, which has no NumPy gradient")


def activated(spec: LayerSpec, name: str, compute, compute_backward) -> DifferentiableStep:
    """A step computing `activation(compute(x))`, given `compute`'s own backward step."""
    if name != "linear" and name not in ACTIVATIONS:
        raise UnsupportedModel(f"layer `{spec.name}` uses activation {name!r}, which has no NumPy translation")
    function = ACTIVATIONS.get(name, lambda z: z)
    gradient = activation_gradient(name, spec)

    def forward(x):
        z, inner = compute(x)
        a = function(z).astype(np.float32, copy=False)
        return a, (z, a, inner)

    def backward(dy, cache):
        z, a, inner = cache
        return compute_backward(gradient(dy, z, a), inner)

    return DifferentiableStep(forward, backward)


def scatter_windows(d_patches: np.ndarray, input_shape: tuple, window: tuple[int, int], strides: tuple[int, int],
                    padding: str) -> np.ndarray:
    """The gradient w.r.t. `windows`' input, from the gradient w.r.t. its patches `(n, oh, ow, c, kh, kw)`."""
    n, height, width, channels = input_shape
    (top, bottom), (left, right) = ((0, 0), (0, 0)) if padding == "valid" else (
        same_padding(height, window[0], strides[0]), same_padding(width, window[1], strides[1]))
    padded = np.zeros((n, height + top + bottom, width + left + right, channels), np.float32)
    oh, ow = d_patches.shape[1:3]
    for i in range(window[0]):
        for j in range(window[1]):
            padded[:, i: i + (oh - 1) * strides[0] + 1: strides[0], j: j + (ow - 1) * strides[1] + 1: strides[1]] \
                += d_patches[..., i, j]
    return padded[:, top: top + height, left: left + width]


def conv2d_step(spec: LayerSpec) -> DifferentiableStep:
    convolution = convolution_of(spec)  # the forward pass's own weights and sliding
    (kh, kw), c_out = convolution.window, convolution.matrix.shape[1]

    def convolve(x):
        return convolution(x), x.shape

    def convolve_backward(dz, input_shape):
        n, oh, ow, _ = dz.shape
        d_rows = (dz.reshape(n * oh * ow, c_out) @ convolution.matrix.T).reshape(n, oh, ow, kh, kw, input_shape[3])
        d_patches = d_rows.transpose(0, 1, 2, 5, 3, 4)  # (n, oh, ow, c, kh, kw), as `windows` lays them out
        return scatter_windows(d_patches, input_shape, convolution.window, convolution.strides, convolution.padding)

    return activated(spec, spec.config["activation"], convolve, convolve_backward)


def pooling_step(spec: LayerSpec) -> DifferentiableStep:
    pool = tuple(spec.config["pool_size"])
    strides = tuple(spec.config["strides"] or pool)
    padding = padding_of(spec)
    size = pool[0] * pool[1]
    if spec.class_name == "AveragePooling2D":
        if padding != "valid":
            raise UnsupportedModel(f"layer `{spec.name}`: average pooling with padding='same' has no NumPy translation")

        def average(x):
            return windows(x, pool, strides, padding, 0.0).mean(axis=(4, 5), dtype=np.float32), x.shape

        def average_backward(dy, input_shape):
            d_patches = np.broadcast_to((dy / size)[..., None, None], (*dy.shape, *pool))
            return scatter_windows(d_patches, input_shape, pool, strides, padding)

        return DifferentiableStep(average, average_backward)

    def maximum(x):
        patches = windows(x, pool, strides, padding, -np.inf)  # (n, oh, ow, c, ph, pw)
        flat = patches.reshape(*patches.shape[:4], size)
        first_largest = flat.argmax(axis=-1)
        y = np.take_along_axis(flat, first_largest[..., None], axis=-1)[..., 0]
        return y.astype(np.float32, copy=False), (x.shape, first_largest)

    def maximum_backward(dy, cache):
        input_shape, first_largest = cache
        d_flat = np.zeros((*dy.shape, size), np.float32)
        np.put_along_axis(d_flat, first_largest[..., None], dy[..., None], axis=-1)
        return scatter_windows(d_flat.reshape(*dy.shape, *pool), input_shape, pool, strides, padding)

    return DifferentiableStep(maximum, maximum_backward)


def dense_step(spec: LayerSpec) -> DifferentiableStep:
    kernel, bias = spec.weights["kernel"], spec.weights.get("bias")

    def multiply(x):
        z = x @ kernel
        return (z if bias is None else z + bias), None

    return activated(spec, spec.config["activation"], multiply, lambda dz, _: dz @ kernel.T)


def scaling_step(scale: np.ndarray, shift: np.ndarray) -> DifferentiableStep:
    """`x * scale + shift` (batch normalization at inference, rescaling, normalization)."""
    return DifferentiableStep(lambda x: ((x * scale + shift).astype(np.float32, copy=False), None),
                              lambda dy, _: dy * scale)


def batch_normalization_step(spec: LayerSpec) -> DifferentiableStep:
    weights = spec.weights
    scale = 1.0 / np.sqrt(weights["moving_variance"] + np.float32(spec.config["epsilon"]))
    if "gamma" in weights:
        scale = scale * weights["gamma"]
    shift = -weights["moving_mean"] * scale
    if "beta" in weights:
        shift = shift + weights["beta"]
    return scaling_step(scale.astype(np.float32), shift.astype(np.float32))


def rescaling_step(spec: LayerSpec) -> DifferentiableStep:
    return scaling_step(np.asarray(spec.config["scale"], np.float32), np.asarray(spec.config["offset"], np.float32))


def normalization_step(spec: LayerSpec) -> DifferentiableStep:
    if spec.config.get("invert"):
        raise UnsupportedModel(f"layer `{spec.name}`: an inverted Normalization has no NumPy translation")
    std = np.maximum(np.sqrt(spec.weights["variance"]), np.float32(1e-7))  # Keras's epsilon
    return scaling_step((1.0 / std).astype(np.float32), (-spec.weights["mean"] / std).astype(np.float32))


def reshaping_step(target: tuple | None) -> DifferentiableStep:
    """Flatten (`target` None) or Reshape: the gradient takes the input's shape back."""
    return DifferentiableStep(lambda x: (x.reshape(len(x), *(target or (-1,))), x.shape),
                              lambda dy, input_shape: dy.reshape(input_shape))


def activation_step(spec: LayerSpec) -> DifferentiableStep:
    return activated(spec, spec.config["activation"], lambda x: (x, None), lambda dz, _: dz)


def relu_step(spec: LayerSpec) -> DifferentiableStep:
    config = spec.config
    if config.get("max_value") is not None or config.get("negative_slope") or config.get("threshold"):
        raise UnsupportedModel(f"layer `{spec.name}`: a ReLU with max_value, slope or threshold")
    return activated(spec, "relu", lambda x: (x, None), lambda dz, _: dz)


def softmax_step(spec: LayerSpec) -> DifferentiableStep:
    if spec.config.get("axis", -1) not in (-1, [-1]):
        raise UnsupportedModel(f"layer `{spec.name}`: softmax over axis {spec.config['axis']}")
    return activated(spec, "softmax", lambda x: (x, None), lambda dz, _: dz)


STEP_BUILDERS: dict[str, Callable[[LayerSpec], DifferentiableStep]] = {
    "Conv2D": conv2d_step,
    "MaxPooling2D": pooling_step,
    "AveragePooling2D": pooling_step,
    "Dense": dense_step,
    "BatchNormalization": batch_normalization_step,
    "Rescaling": rescaling_step,
    "Normalization": normalization_step,
    "Flatten": lambda spec: reshaping_step(None),
    "Reshape": lambda spec: reshaping_step(tuple(spec.config["target_shape"])),
    "Activation": activation_step,
    "ReLU": relu_step,
    "Softmax": softmax_step,
}


def differentiable_step(spec: LayerSpec) -> DifferentiableStep:
    """The forward and backward steps of one saved layer.

    Args:
        spec: the layer's kind, config and weights, as a `NumpyModel` holds them.

    Returns:
        Its `DifferentiableStep`; `forward` computes what `core.models.numpy_model_layers.build_layer`
        computes.

    Raises:
        UnsupportedModel: if the kind or one of its settings has no NumPy gradient.
    """
    if spec.class_name not in STEP_BUILDERS:
        raise UnsupportedModel(f"layer `{spec.name}` of type {spec.class_name} has no NumPy gradient")
    return STEP_BUILDERS[spec.class_name](spec)
