"""Write-up 001's NumPy model: its gradients against finite differences, and its preset run."""

import numpy as np
import pytest

from core.config.train_config import from_dict
from core.training.events import TARGET_REACHED, EpochEnd, TrainingEnd
from core.models.numpy_logreg import NumpyLogisticRegression, sigmoid
from core.data.splits import make_splits
from core.training.trainer import Trainer
from core.config.zoo import SPECS

STEP = 1e-6  # central-difference step in float64


def summed_bce(weights, bias, x, y):
    """Binary cross-entropy of the 10 one-vs-all units, summed over samples and classes.

    Written as `log(1 + e^z) - t·z`, independent of the model's own loss code.
    """
    z = x @ weights + bias
    targets = np.eye(10)[y]
    return float(np.sum(np.logaddexp(0.0, z) - targets * z))


@pytest.fixture
def small_problem():
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 1.0, size=(6, 784))  # float64
    y = rng.integers(0, 10, size=6)
    model = NumpyLogisticRegression(seed=3)
    model.weights = rng.normal(0.0, 0.05, size=(784, 10))  # small, so no sigmoid saturates
    model.bias = rng.normal(0.0, 0.5, size=10)
    return model, x, y


def test_weight_gradient_is_that_of_the_summed_cross_entropy(small_problem):
    model, x, y = small_problem
    grad_weights, _ = model.gradients(x, y)
    rng = np.random.default_rng(0)
    for row, column in zip(rng.integers(0, 784, 40), rng.integers(0, 10, 40)):
        plus, minus = model.weights.copy(), model.weights.copy()
        plus[row, column] += STEP
        minus[row, column] -= STEP
        numeric = (summed_bce(plus, model.bias, x, y) - summed_bce(minus, model.bias, x, y)) / (2 * STEP)
        assert grad_weights[row, column] == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_bias_gradient_is_that_of_the_mean_cross_entropy(small_problem):
    model, x, y = small_problem
    _, grad_bias = model.gradients(x, y)
    for column in range(10):
        plus, minus = model.bias.copy(), model.bias.copy()
        plus[column] += STEP
        minus[column] -= STEP
        numeric = (summed_bce(model.weights, plus, x, y) - summed_bce(model.weights, minus, x, y)) / (2 * STEP) / len(x)
        assert grad_bias[column] == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_loss_is_the_per_sample_mean_of_the_summed_cross_entropy(small_problem):
    model, x, y = small_problem
    assert model.loss(x, y) == pytest.approx(summed_bce(model.weights, model.bias, x, y) / len(x), rel=1e-9)


def test_sigmoid_is_stable_for_raw_pixel_sized_inputs():
    z = np.array([-5000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 5000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        out = sigmoid(z)
    assert out[0] == 0.0 and out[-1] == 1.0 and out[3] == 0.5
    np.testing.assert_allclose(out[1:-1], 1.0 / (1.0 + np.exp(-z[1:-1])), rtol=1e-12)


def test_preset_trains_through_the_stream_until_train_accuracy_passes_80_percent(mnist):
    # The preset (full-batch GD, lr 0.1, raw pixels, stop once train accuracy > 0.80) on 2,000 images.
    config = from_dict({**SPECS["numpy_logreg"].preset, "model": "numpy_logreg", "train_size": 2000,
                        "validation_size": 500})
    assert (config.batch_size, config.target_accuracy, config.epochs) == (0, 0.8, 100)
    trainer = Trainer(config, make_splits(mnist, config))
    events = list(trainer)
    end = events[-1]
    assert isinstance(end, TrainingEnd) and end.status == TARGET_REACHED, end
    accuracies = [e.accuracy for e in events if isinstance(e, EpochEnd)]
    assert 1 < len(accuracies) < config.epochs
    assert accuracies[-1] > 0.8 and all(a <= 0.8 for a in accuracies[:-1])
    assert all(np.isfinite(e.val_loss) and 0 <= e.val_accuracy <= 1 for e in trainer.epochs)
    # The Keras twin (same logits under a softmax) classifies the training images the same way.
    predicted = np.argmax(trainer.model.predict(trainer.splits.x_train, verbose=0), axis=1)
    keras_accuracy = float(np.mean(predicted == trainer.splits.y_train))
    assert keras_accuracy == pytest.approx(accuracies[-1], abs=2 / len(predicted))  # float32 vs float64 ties
