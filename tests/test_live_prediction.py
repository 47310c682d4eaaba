"""The compiled one-image predictor against Keras's own `model.predict`."""

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

from core.drawing.live_prediction import DigitPredictor  # noqa: E402
from core.models.keras_models import build_keras_model  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return build_keras_model(preset_config("lenet5"), steps_per_epoch=1)


@pytest.fixture(scope="module")
def images():
    return to_model_input(load_mnist(download=False).x_test[:8])  # (8, 28, 28, 1)


def test_probabilities_equal_model_predict(model, images):
    predictor = DigitPredictor(model)
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(predictor.probabilities_batch(images), expected, atol=1e-6)
    for index in range(3):
        single = predictor.probabilities(images[index, :, :, 0])
        assert single.shape == (10,) and single.dtype == np.float32
        np.testing.assert_allclose(single, expected[index], atol=1e-6)
    np.testing.assert_allclose(predictor.probabilities(images[0]), expected[0], atol=1e-6)  # (28, 28, 1) too


def test_batches_of_other_sizes_reuse_the_compiled_call(model, images):
    predictor = DigitPredictor(model)
    assert predictor.probabilities_batch(images[:5, :, :, 0]).shape == (5, 10)
    assert predictor.probabilities_batch(images[:2]).shape == (2, 10)


def test_wrong_shapes_are_refused_with_the_shape_received(model):
    predictor = DigitPredictor(model)
    with pytest.raises(ValueError, match=r"image.shape=\(28, 27\)"):
        predictor.probabilities(np.zeros((28, 27)))
    with pytest.raises(ValueError, match=r"images.shape=\(2, 28, 28, 3\)"):
        predictor.probabilities_batch(np.zeros((2, 28, 28, 3)))


def test_a_model_without_ten_outputs_is_refused():
    not_a_classifier = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="10 class probabilities"):
        DigitPredictor(not_a_classifier)


def test_zoo_models_run_through_the_checked_numpy_translation(model):
    predictor = DigitPredictor(model)
    assert predictor.backend == "numpy" and predictor.fallback_reason is None


def test_an_untranslatable_model_falls_back_to_tensorflow_and_still_predicts(images):
    inputs = keras.Input((28, 28, 1))
    functional = keras.Model(inputs, keras.layers.Dense(10, "softmax")(keras.layers.Flatten()(inputs)))
    predictor = DigitPredictor(functional)
    assert predictor.backend == "tensorflow" and "Sequential" in predictor.fallback_reason
    np.testing.assert_allclose(predictor.probabilities_batch(images), functional.predict(images, verbose=0), atol=1e-6)


def test_a_translation_that_disagrees_with_the_model_is_not_used(model, images, monkeypatch):
    import core.models.numpy_forward as numpy_forward

    import core.models.numpy_model_layers as numpy_model_layers

    # A wrong translation: every ReLU the translation looks up (out of place, and in place after a layer's own
    # computation) becomes abs.
    monkeypatch.setitem(numpy_forward.ACTIVATIONS, "relu", lambda x: np.abs(x))
    monkeypatch.setitem(numpy_model_layers.IN_PLACE_ACTIVATIONS, "relu", lambda x: np.abs(x))
    predictor = DigitPredictor(model)
    assert predictor.backend == "tensorflow" and "differs from the model" in predictor.fallback_reason
    np.testing.assert_allclose(predictor.probabilities_batch(images), model.predict(images, verbose=0), atol=1e-6)
