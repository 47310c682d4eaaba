"""Classify one drawing at interactive speed: the model's layers run in NumPy, no `model.predict`.

`model.predict` spends 35-120 ms per call setting up a data pipeline, an eager
`model(x, training=False)` re-dispatches every layer from Python (~20 ms on two busy cores), and
even a `tf.function` traced once costs ~3 ms, most of it TensorFlow's runtime rather than
arithmetic. `core.models.numpy_forward` runs the same weights with NumPy matmuls in well under a
millisecond for the shipped model (`bench/sketch_latency.py`). Each predictor checks that
translation against the Keras model itself when it is made, and falls back to the compiled
`tf.function` for a model the translation does not cover or does not match.
"""

from __future__ import annotations

import numpy as np

from core.data.mnist import IMAGE_SHAPE, NUM_CLASSES
from core.models.numpy_forward import UnsupportedModel, compile_forward

# The NumPy translation must match the Keras model this closely on the probe images.
MATCH_TOLERANCE = 1e-4


class DigitPredictor:
    """A loaded Keras model wrapped for fast predictions on a few images.

    Safe to share between threads (Streamlit sessions); it never changes the model, and reads its
    weights once, when made.

    Attributes:
        backend: `"numpy"` (the model's layers translated by `core.models.numpy_forward`, checked against
            the model) or `"tensorflow"` (a compiled `tf.function` call of the model).
        fallback_reason: why the NumPy translation is not used, or None when it is.

    Args:
        model: a built Keras model taking float32 `(batch, 28, 28, 1)` images in `[0, 1]`
            and returning class probabilities `(batch, 10)`, e.g. a zoo model or
            `core.runs.store.load_model(...)`.

    Raises:
        ValueError: if the model's output is not `(batch, 10)`.
    """

    def __init__(self, model):
        import tensorflow as tf

        self.model = model
        self._call = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, *IMAGE_SHAPE, 1), tf.float32)],
        )
        output = self._call(np.zeros((1, *IMAGE_SHAPE, 1), np.float32))  # trace now, not on the first stroke
        if tuple(output.shape) != (1, NUM_CLASSES):
            raise ValueError(
                f"`model` must output {NUM_CLASSES} class probabilities per image. "
                f"Received a model whose output has shape {tuple(output.shape)} for one image."
            )
        self._forward, self.fallback_reason = self._numpy_forward_matching(model)
        self.backend = "tensorflow" if self._forward is None else "numpy"

    def _numpy_forward_matching(self, model):
        """The model's NumPy translation if it matches the model on probe images, else (None, why)."""
        try:
            forward = compile_forward(model)
        except UnsupportedModel as error:
            return None, str(error)
        probes = probe_images()
        expected = self._call(probes).numpy()
        difference = float(np.max(np.abs(forward(probes) - expected)))
        if not difference <= MATCH_TOLERANCE:  # also catches NaN
            return None, f"the NumPy translation differs from the model by {difference:.2g} (> {MATCH_TOLERANCE:g})"
        return forward, None

    def probabilities_batch(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities for a few images.

        Args:
            images: float array of shape `(n, 28, 28)` or `(n, 28, 28, 1)`, values in `[0, 1]`.

        Returns:
            float32 array of shape `(n, 10)`.

        Raises:
            ValueError: if `images` has another shape.
        """
        images = np.asarray(images, dtype=np.float32)
        if images.ndim not in (3, 4) or images.shape[1:3] != IMAGE_SHAPE or (images.ndim == 4 and images.shape[3] != 1):
            raise ValueError(
                f"`images` must have shape (n, 28, 28) or (n, 28, 28, 1). Received: images.shape={images.shape}"
            )
        images = images.reshape(-1, *IMAGE_SHAPE, 1)
        if self._forward is not None:
            return self._forward(images)
        return self._call(images).numpy()

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities for one image.

        Args:
            image: float array of shape `(28, 28)` or `(28, 28, 1)` with values in `[0, 1]`,
                as `core.drawing.preprocess.canvas_to_input` returns.

        Returns:
            float32 array of shape `(10,)`: the probability of each digit 0..9.

        Raises:
            ValueError: if `image` has another shape.
        """
        image = np.asarray(image, dtype=np.float32)
        if image.shape not in (IMAGE_SHAPE, (*IMAGE_SHAPE, 1)):
            raise ValueError(
                f"`image` must have shape (28, 28) or (28, 28, 1). Received: image.shape={image.shape}"
            )
        return self.probabilities_batch(image[None])[0]


def probe_images() -> np.ndarray:
    """Inputs to check a translation on: blank, grey, full, and seeded noise of three densities."""
    rng = np.random.default_rng(0)
    noise = [(rng.random((*IMAGE_SHAPE, 1)) < density) * rng.random((*IMAGE_SHAPE, 1)) for density in (0.1, 0.3, 0.6)]
    constant = [np.full((*IMAGE_SHAPE, 1), value) for value in (0.0, 0.5, 1.0)]
    return np.stack(constant + noise).astype(np.float32)
