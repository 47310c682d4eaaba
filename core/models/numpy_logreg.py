"""Write-up 001's one-vs-all logistic regression in pure NumPy (no TensorFlow)."""

from __future__ import annotations

import numpy as np

from core.data.mnist import NUM_CLASSES

NUM_PIXELS = 28 * 28


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (raw 0..255 pixels make `|z|` reach the thousands)."""
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def one_hot(y: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float64)[y]


class NumpyLogisticRegression:
    """784 → 10 sigmoid units, one per class, trained by full-batch gradient descent.

    Args:
        seed: seeds the U(-1, 1) initial weights and biases.
    """

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.weights = rng.uniform(-1.0, 1.0, size=(NUM_PIXELS, NUM_CLASSES))  # (784, 10)
        self.bias = rng.uniform(-1.0, 1.0, size=(NUM_CLASSES,))  # (10,)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Per-class sigmoid outputs of shape `(n, 10)` for raw-pixel inputs `x` of shape `(n, 784)`."""
        return sigmoid(x @ self.weights + self.bias)

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean over samples of the summed one-vs-all binary cross-entropy."""
        p = np.clip(self.probabilities(x), 1e-12, 1 - 1e-12)
        targets = one_hot(y)
        return float(-np.mean(np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=1)))

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(np.argmax(x @ self.weights + self.bias, axis=1) == y))

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The write-up's gradients: for the weights summed over samples, for the bias averaged.

        `x.T @ (sigmoid(xW + b) - onehot)` is the gradient of the *summed* binary cross-entropy;
        the bias gradient is that of the *mean*. Both are what write-up 001 used.

        Returns:
            `(dW of shape (784, 10), db of shape (10,))`.
        """
        error = self.probabilities(x) - one_hot(y)  # (n, 10)
        return x.T @ error, error.mean(axis=0)

    def step(self, x: np.ndarray, y: np.ndarray, learning_rate: float) -> None:
        grad_weights, grad_bias = self.gradients(x, y)
        self.weights -= learning_rate * grad_weights
        self.bias -= learning_rate * grad_bias

    def to_keras(self):
        """An equivalent Keras model taking `(n, 28, 28, 1)` inputs in `[0, 1]`.

        The output is a softmax over the same logits: the same predicted class as the
        one-vs-all sigmoids, but probabilities that sum to one, like every other zoo model.
        """
        import keras
        from keras import layers

        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Rescaling(255.0, name="to_raw_pixels"),
                layers.Flatten(),
                layers.Dense(NUM_CLASSES, "softmax"),
            ],
            name="numpy_logreg",
        )
        model.layers[-1].set_weights([self.weights.astype(np.float32), self.bias.astype(np.float32)])
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
