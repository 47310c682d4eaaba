"""Filters, feature maps and input weights read off untrained zoo models, checked against NumPy."""

import os
from pathlib import Path

os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

import numpy as np
import pytest

import core  # noqa: F401  (before anything imports TensorFlow)
from core.data.mnist import load_mnist
from core.data.splits import to_model_input
from core.config.train_config import preset_config

keras = pytest.importorskip("keras")

from core.models.keras_models import build_keras_model  # noqa: E402
from core.figures.network_view import conv_filters, dense_input_weights, feature_maps  # noqa: E402


@pytest.fixture(scope="module")
def lenet5():
    return build_keras_model(preset_config("lenet5"), steps_per_epoch=1)


@pytest.fixture(scope="module")
def softmax():
    return build_keras_model(preset_config("softmax"), steps_per_epoch=1)


@pytest.fixture(scope="module")
def image():
    """One MNIST test digit, float32 `(28, 28)` in `[0, 1]`."""
    return to_model_input(load_mnist(download=False).x_test[:1])[0, :, :, 0]


def conv_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def test_conv_filters_equal_the_kernels(lenet5):
    layers = conv_layers(lenet5)
    filters = conv_filters(lenet5)
    assert [f.name for f in filters] == [layer.name for layer in layers]
    assert [f.filters.shape for f in filters] == [(6, 5, 5), (16, 5, 5)]
    first_kernel = layers[0].kernel.numpy()  # (5, 5, 1, 6)
    for k in range(6):
        np.testing.assert_allclose(filters[0].filters[k], first_kernel[:, :, 0, k], rtol=1e-6)
    second_kernel = layers[1].kernel.numpy()  # (5, 5, 6, 16)
    for k in range(16):
        expected = sum(second_kernel[:, :, c, k] for c in range(6)) / 6  # mean over input channels
        np.testing.assert_allclose(filters[1].filters[k], expected, rtol=1e-5, atol=1e-7)


def test_feature_maps_shapes(lenet5, image):
    maps = feature_maps(lenet5, image)
    assert [m.name for m in maps] == [layer.name for layer in conv_layers(lenet5)]
    assert [m.maps.shape for m in maps] == [(28, 28, 6), (10, 10, 16)]
    assert all(m.maps.dtype == np.float32 for m in maps)


def test_first_feature_maps_equal_a_numpy_convolution(lenet5, image):
    layer = conv_layers(lenet5)[0]  # 6 filters 5x5, padding "same", ReLU
    kernel, bias = layer.kernel.numpy()[:, :, 0, :], layer.bias.numpy()
    padded = np.pad(image, 2)
    expected = np.zeros((28, 28, 6), dtype=np.float64)
    for row in range(28):
        for column in range(28):
            patch = padded[row : row + 5, column : column + 5]
            expected[row, column] = np.tensordot(patch, kernel, axes=([0, 1], [0, 1])) + bias
    expected = np.maximum(expected, 0)
    maps = feature_maps(lenet5, image)[0].maps
    np.testing.assert_allclose(maps, expected, atol=1e-5)
    assert maps.max() > 0  # the oracle compared something


def test_feature_maps_accept_a_trailing_channel_and_reject_other_shapes(lenet5, image):
    with_channel = feature_maps(lenet5, image[:, :, None])
    np.testing.assert_allclose(with_channel[0].maps, feature_maps(lenet5, image)[0].maps)
    with pytest.raises(ValueError, match="image.shape=\\(28, 27\\)"):
        feature_maps(lenet5, image[:, :27])


def test_model_without_convs_has_no_filters_or_maps(softmax, image):
    assert conv_filters(softmax) == []
    assert feature_maps(softmax, image) == []


def test_dense_input_weights_of_a_conv_model_is_none(lenet5):
    assert dense_input_weights(lenet5) is None


def test_softmax_input_weights_are_the_kernel_as_images(softmax):
    weights = dense_input_weights(softmax)
    assert weights.shape == (10, 28, 28) and weights.dtype == np.float32
    kernel = next(l for l in softmax.layers if isinstance(l, keras.layers.Dense)).kernel.numpy()
    for unit in range(10):
        np.testing.assert_array_equal(weights[unit].ravel(), kernel[:, unit])


def test_softmax_input_weights_reproduce_the_model_output(softmax, image):
    # what the dashboard will show as templates must be what the model multiplies pixels by
    weights = dense_input_weights(softmax)
    dense = next(l for l in softmax.layers if isinstance(l, keras.layers.Dense))
    faint = image * 0.002  # keeps the N(0, 1)-weighted logits small, so softmax is not one-hot
    raw_pixels = faint.astype(np.float64) * 255.0  # the preset's Rescaling(255) layer
    logits = (weights * raw_pixels).sum(axis=(1, 2)) + dense.bias.numpy()
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    assert expected.max() < 0.99
    actual = keras.ops.convert_to_numpy(softmax(faint[None, :, :, None], training=False))[0]
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    transposed = weights.transpose(0, 2, 1)  # guards the oracle: a transposed view would fail it
    assert not np.allclose((transposed * raw_pixels).sum(axis=(1, 2)), logits - dense.bias.numpy(), rtol=1e-3)
