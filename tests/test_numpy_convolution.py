"""The NumPy convolution's patch layouts (one input channel: shifted slices; several: (kh, kw, c) rows) against the
definition, and the fast paths of the forward pass (max pooling rows then columns, a convolution fused with its pooling)
against the plain computation.

No Keras here: each convolution is checked against a float64 sum over the kernel's offsets, written from
the definition of a "valid" or TensorFlow-"same" convolution (tests/test_numpy_forward.py checks the
same layers against Keras itself).
"""

import numpy as np
import pytest

from core.models.numpy_model import NumpyModel
from core.models.numpy_model_layers import LayerSpec, build_layer, convolution_of, max_pool_tiles, same_padding, tiles


def conv_spec(kernel: np.ndarray, bias: np.ndarray, strides, padding: str, activation: str = "linear") -> LayerSpec:
    config = {"strides": list(strides), "padding": padding, "dilation_rate": [1, 1], "groups": 1, "activation": activation}
    return LayerSpec("Conv2D", "conv", config, {"kernel": kernel, "bias": bias})


def by_definition(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, strides, padding: str) -> np.ndarray:
    """out[n, y, x, o] = bias[o] + sum over (i, j, c) of x[n, y * sh + i, x * sw + j, c] * kernel[i, j, c, o], in float64."""
    (kh, kw, _, c_out), (sh, sw) = kernel.shape, strides
    if padding == "same":
        (top, bottom), (left, right) = same_padding(x.shape[1], kh, sh), same_padding(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    n, height, width, _ = x.shape
    oh, ow = (height - kh) // sh + 1, (width - kw) // sw + 1
    out = np.zeros((n, oh, ow, c_out)) + bias
    for i in range(kh):
        for j in range(kw):
            moved = x[:, i: i + (oh - 1) * sh + 1: sh, j: j + (ow - 1) * sw + 1: sw, :].astype(np.float64)
            out += moved @ kernel[i, j].astype(np.float64)
    return out


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("window", [(5, 5), (3, 2)])
@pytest.mark.parametrize("strides", [(1, 1), (2, 1), (2, 3)])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_a_convolution_equals_its_definition(channels, window, strides, padding):
    rng = np.random.default_rng(channels * 100 + window[1] * 10 + strides[1])
    x = rng.normal(size=(4, 11, 9, channels)).astype(np.float32)
    kernel = rng.normal(size=(*window, channels, 6)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32)
    got = convolution_of(conv_spec(kernel, bias, strides, padding))(x)
    expected = by_definition(x, kernel, bias, strides, padding)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_the_relu_of_a_layer_is_applied_to_its_own_output_only():
    """The in-place ReLU overwrites the convolution's fresh output, never the input it was given."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 8, 8, 2)).astype(np.float32)
    before = x.copy()
    kernel, bias = rng.normal(size=(3, 3, 2, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    got = build_layer(conv_spec(kernel, bias, (1, 1), "valid", activation="relu"))(x)
    assert np.array_equal(x, before)
    np.testing.assert_allclose(got, np.maximum(by_definition(x, kernel, bias, (1, 1), "valid"), 0), rtol=1e-5, atol=1e-5)
    assert got.min() == 0 and got.max() > 0


@pytest.mark.parametrize("pool", [(2, 2), (3, 2), (1, 2), (2, 1)])
def test_max_pooling_rows_then_columns_gives_the_tiles_maxima(pool):
    x = np.random.default_rng(1).normal(size=(3, 9, 7, 5)).astype(np.float32)  # odd sizes: the leftovers are dropped
    x[0, 0, 0, 0] = x[0, 0, 1, 0]  # a tie
    got = max_pool_tiles(x, pool)
    assert np.array_equal(got, tiles(x, pool).max(axis=(2, 4)))
    assert got.shape == (3, 9 // pool[0], 7 // pool[1], 5) and not np.shares_memory(got, x)


def pooled_model(activation: str, pool_size, strides=None) -> NumpyModel:
    rng = np.random.default_rng(2)
    conv = conv_spec(rng.normal(size=(5, 5, 1, 6)).astype(np.float32), rng.normal(size=6).astype(np.float32),
                     (1, 1), "valid", activation)
    pool = LayerSpec("MaxPooling2D", "pool", {"pool_size": list(pool_size), "strides": strides, "padding": "valid"}, {})
    conv2 = conv_spec(rng.normal(size=(3, 3, 6, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32),
                      (1, 1), "valid", activation)
    pool2 = LayerSpec("MaxPooling2D", "pool_1", {"pool_size": [2, 2], "strides": None, "padding": "valid"}, {})
    flatten = LayerSpec("Flatten", "flatten", {}, {})
    return NumpyModel([conv, pool, conv2, pool2, flatten], (28, 28, 1))


@pytest.mark.parametrize("activation", ["relu", "linear", "tanh"])
@pytest.mark.parametrize("pool_size, strides", [((2, 2), None), ((2, 2), [2, 2]), ((3, 3), [1, 1])])
def test_a_convolution_fused_with_its_pooling_gives_the_same_numbers_as_layer_by_layer(activation, pool_size, strides):
    """Pooling first, then bias and ReLU, is exact (not close): the model's output equals the layers' one by one."""
    model = pooled_model(activation, pool_size, strides)
    digits = np.random.default_rng(3).random((7, 28, 28, 1)).astype(np.float32)
    layer_by_layer = digits
    for layer in model.layers:
        layer_by_layer = build_layer(layer)(layer_by_layer)
    assert np.array_equal(model(digits), layer_by_layer)
    assert np.array_equal(model.predict(digits, batch_size=3), layer_by_layer)
    [(_, first), (_, second)] = model.layer_outputs(digits, "Conv2D")  # layer outputs are unfused: the activation's
    assert first.shape == (7, 24, 24, 6) and (activation != "relu" or first.min() == 0)
