"""The NumPy backward pass (`core.explain`) against `tf.GradientTape` on the same weights, for every zoo model.

Each zoo model is built with Keras (its preset's layers, seeded random weights: gradients do not
need training), translated into a `NumpyModel` as a training process saves it, and asked for the
gradient of one class's logit, by NumPy and by TensorFlow, on real MNIST test digits. The last
convolution's output gradient (what Grad-CAM weighs) and the integrated-gradients maps are
compared too.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.config.train_config import preset_config
from core.config.zoo import SPECS
from core.data.mnist import load_mnist
from core.explain.integrated_gradients import integrated_gradients
from core.explain.logit_gradients import LogitModel

tf = pytest.importorskip("tensorflow")

TOLERANCE = 1e-3  # of the largest gradient: float32 sums in another order


def keras_model(name: str):
    from core.models.keras_models import build_keras_model
    from core.models.numpy_logreg import NumpyLogisticRegression

    if name == "numpy_logreg":
        return NumpyLogisticRegression(seed=0).to_keras()
    config = preset_config(name, seed=0, **({"hidden_units": 64} if SPECS[name].has_hidden_layers else {}))
    return build_keras_model(config, steps_per_epoch=10)


def tensorflow_gradients(model, images: np.ndarray, targets: np.ndarray, conv_index: int | None):
    """d logit[target] / d input with `tf.GradientTape` (the last Dense's softmax left out), and / d the
    output of the `conv_index`-th Conv2D layer when given."""
    x = tf.constant(images[..., None])
    conv_layers = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    watched = conv_layers[conv_index] if conv_index is not None else None
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h, conv_output = x, None
        for layer in model.layers[:-1]:
            h = layer(h, training=False)
            if layer is watched:
                conv_output = h
        last = model.layers[-1]
        logits = tf.matmul(h, last.kernel) + (last.bias if last.bias is not None else 0.0)
        chosen = tf.reduce_sum(logits * tf.one_hot(targets, 10))
    input_gradient = tape.gradient(chosen, x).numpy()[..., 0]
    conv_gradient = tape.gradient(chosen, conv_output).numpy() if conv_output is not None else None
    return logits.numpy(), input_gradient, conv_gradient


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_mnist().x_test[:6].astype(np.float32) / 255.0


@pytest.mark.parametrize("name", list(SPECS))
def test_numpy_and_tensorflow_give_the_same_gradients(name, digits):
    from core.models.numpy_forward import translate_checked

    model = keras_model(name)
    logit_model = LogitModel(translate_checked(model))
    targets = np.array([3, 7, 0, 9, 4, 1])
    conv_index = -1 if logit_model.last_conv_index is not None else None
    logits, expected, expected_conv = tensorflow_gradients(model, digits, targets, conv_index)
    found = logit_model.gradients(digits[..., None], targets, layer_index=logit_model.last_conv_index)
    np.testing.assert_allclose(found.logits, logits, rtol=1e-4, atol=1e-4 * np.abs(logits).max())
    assert np.abs(expected).max() > 0, "a zero gradient would match anything"
    np.testing.assert_allclose(found.input_gradient[..., 0], expected, atol=TOLERANCE * np.abs(expected).max())
    if expected_conv is not None:
        assert found.layer_output.shape == expected_conv.shape
        np.testing.assert_allclose(found.layer_gradient, expected_conv, atol=TOLERANCE * np.abs(expected_conv).max())


def test_integrated_gradients_agree_with_tensorflows(digits):
    """The same method over both backward passes: the maps agree to tolerance."""
    from core.models.numpy_forward import translate_checked

    model = keras_model("lenet5")
    logit_model = LogitModel(translate_checked(model))
    targets = np.array([2, 5, 8, 1, 6, 0])
    steps = 16
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    path = (alphas[None, :, None, None] * digits[:, None]).reshape(-1, 28, 28)
    _, path_gradients, _ = tensorflow_gradients(model, path, np.repeat(targets, steps), None)
    expected = digits * path_gradients.reshape(len(digits), steps, 28, 28).mean(axis=1)
    found = integrated_gradients(logit_model, digits, targets, steps=steps)
    np.testing.assert_allclose(found, expected, atol=TOLERANCE * np.abs(expected).max())
