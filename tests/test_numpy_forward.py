"""The NumPy forward pass against Keras's own `model(x, training=False)`, layer kind by layer kind."""

import dataclasses
import os
from pathlib import Path

os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

import numpy as np
import pytest

import core  # noqa: F401  (before anything imports TensorFlow)
from core.data.mnist import load_mnist
from core.data.splits import to_model_input
from core.config.zoo import MODEL_NAMES
from core.config.train_config import preset_config

keras = pytest.importorskip("keras")

from core.models.keras_models import build_keras_model  # noqa: E402
from core.models.numpy_forward import UnsupportedModel, compile_forward  # noqa: E402
from core.runs.pretrained import load_pretrained_model  # noqa: E402

KERAS_ZOO = [name for name in MODEL_NAMES if name != "numpy_logreg"]  # numpy_logreg exports a softmax model


@pytest.fixture(scope="module")
def digits():
    return to_model_input(load_mnist(download=False).x_test[:32])  # (32, 28, 28, 1) in [0, 1]


def assert_same_outputs(model, images, atol):
    expected = model(images, training=False).numpy()
    got = compile_forward(model)(images)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=atol)
    assert (got.argmax(axis=-1) == expected.argmax(axis=-1)).all()


@pytest.mark.parametrize("name", KERAS_ZOO)
def test_every_zoo_preset_matches_keras(name, digits):
    assert_same_outputs(build_keras_model(preset_config(name), steps_per_epoch=1), digits, atol=1e-5)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "elu", "gelu", "linear"])
@pytest.mark.parametrize("name", ["mlp", "fast"])
def test_every_hidden_activation_matches_keras(name, activation, digits):
    config = dataclasses.replace(preset_config(name), activation=activation, dropout=0.3)
    # the mlp's N(0, 1) weights make logits in the tens: float32 sums differ in the 5th decimal
    assert_same_outputs(build_keras_model(config, steps_per_epoch=1), digits, atol=1e-4)


def test_augmentation_layers_are_the_identity_at_inference(digits):
    config = dataclasses.replace(preset_config("lenet5"), augment_shift=0.1, augment_rotation=10.0, augment_zoom=0.1)
    model = build_keras_model(config, steps_per_epoch=1)
    assert {"RandomRotation", "RandomZoom", "RandomTranslation"} <= {type(layer).__name__ for layer in model.layers}
    assert_same_outputs(model, digits, atol=1e-5)


def test_the_shipped_trained_model_matches_on_a_thousand_test_digits():
    """Trained weights and batch-norm moving statistics, not just initial ones."""
    images = to_model_input(load_mnist(download=False).x_test[:1000])
    assert_same_outputs(load_pretrained_model(), images, atol=1e-5)


def test_strides_same_padding_and_the_other_layer_kinds(digits):
    normalization = keras.layers.Normalization()
    normalization.adapt(digits)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        normalization,
        keras.layers.Conv2D(8, 3, strides=2, padding="same"),  # 28 -> 14, odd padding split
        keras.layers.ReLU(),
        keras.layers.Conv2D(8, 4, strides=(2, 1), padding="same", activation="tanh"),
        keras.layers.MaxPooling2D(3, strides=2, padding="same"),  # (7, 14) -> (4, 7)
        keras.layers.MaxPooling2D(2),  # (4, 7) -> (2, 3): the odd column is dropped
        keras.layers.AveragePooling2D(2, strides=1),  # (2, 3) -> (1, 2)
        keras.layers.BatchNormalization(),
        keras.layers.Reshape((-1,)),
        keras.layers.Dense(10),
        keras.layers.Softmax(),
    ])
    batch_norm = model.layers[7]
    batch_norm.moving_mean.assign(np.linspace(-1, 1, 8))
    batch_norm.moving_variance.assign(np.linspace(0.5, 2, 8))
    batch_norm.gamma.assign(np.linspace(0.5, 1.5, 8))
    batch_norm.beta.assign(np.linspace(-0.2, 0.2, 8))
    assert_same_outputs(model, digits, atol=1e-5)


def test_an_untranslatable_layer_is_named():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Reshape((28, 28)), keras.layers.LSTM(4)])
    with pytest.raises(UnsupportedModel, match="layer `.*` of type LSTM"):
        compile_forward(model)


def test_dilated_convolutions_and_functional_models_are_refused():
    dilated = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 3, dilation_rate=2)])
    with pytest.raises(UnsupportedModel, match="dilated"):
        compile_forward(dilated)
    inputs = keras.Input((28, 28, 1))
    functional = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    with pytest.raises(UnsupportedModel, match="Sequential"):
        compile_forward(functional)


def test_pooled_features_agree_between_keras_and_numpy(digits):
    """The "not a digit" check's pooled conv features: the worker computes them with Keras, the web server in NumPy."""
    from core.models.numpy_forward import export_numpy_model
    from core.models.penultimate import keras_features_and_logits, numpy_features_and_logits

    config = dataclasses.replace(preset_config("lenet5"), augment_rotation=10.0)  # layers NumPy drops come first
    model = build_keras_model(config, steps_per_epoch=1)
    features, logits, pooled = keras_features_and_logits(model, pooled=True)(digits)
    numpy_features, numpy_logits, numpy_pooled = numpy_features_and_logits(export_numpy_model(model), pooled=True)(digits)
    assert pooled.shape == numpy_pooled.shape == (32, 5 * 5 * 16)  # LeNet-5's second pooling: (5, 5, 16)
    np.testing.assert_allclose(numpy_pooled, pooled, atol=1e-5)
    np.testing.assert_allclose(numpy_features, features, atol=1e-5)
    mlp = build_keras_model(preset_config("mlp"), steps_per_epoch=1)
    assert keras_features_and_logits(mlp, pooled=True)(digits)[2] is None
    assert numpy_features_and_logits(export_numpy_model(mlp), pooled=True)(digits[:0])[2] is None
