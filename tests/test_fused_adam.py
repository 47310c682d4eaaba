"""FusedAdam trains exactly as Keras's Adam does (up to float rounding), in one kernel per variable."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from core.models.fused_adam import FusedAdam  # noqa: E402


def train(optimizer, digits, epochs=2):
    """A small conv net with batch norm, trained on real digits; returns (losses, final weights)."""
    x, y = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(16, use_bias=False), keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
        keras.layers.Dense(10, "softmax"),
    ])
    model.compile(optimizer, "sparse_categorical_crossentropy", steps_per_execution=4)
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, shuffle=False)
    return history.history["loss"], [weight.numpy() for weight in model.weights]


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.x_train[:512].astype("float32")[..., None] / 255.0, mnist.y_train[:512]


def test_fused_adam_follows_keras_adam(digits):
    keras_losses, keras_weights = train(keras.optimizers.Adam(3e-3), digits)
    fused_losses, fused_weights = train(FusedAdam(3e-3), digits)
    assert keras_losses[-1] < keras_losses[0]  # it learned something worth comparing
    np.testing.assert_allclose(fused_losses, keras_losses, rtol=1e-4)
    for fused, ours in zip(fused_weights, keras_weights):
        np.testing.assert_allclose(fused, ours, rtol=1e-3, atol=1e-3)


def test_fused_adam_round_trips_through_its_config():
    optimizer = FusedAdam(learning_rate=0.004, beta_1=0.8, epsilon=1e-6)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is FusedAdam
    assert restored.get_config() == optimizer.get_config()
