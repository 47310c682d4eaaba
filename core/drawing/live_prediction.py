"""Classify one drawing at interactive speed: the model's layers run in NumPy, no `model.predict`.

`model.predict` spends 35-120 ms per call setting up a data pipeline, an eager
`model(x, training=False)` re-dispatches every layer from Python (~20 ms on two busy cores), and
even a `tf.function` traced once costs ~3 ms, most of it TensorFlow's runtime rather than
arithmetic. A `core.models.numpy_model.NumpyModel` runs the same weights with NumPy matmuls in
well under a millisecond for the shipped model (`bench/sketch_latency.py`).

A predictor made from a `NumpyModel` (read from the NumPy file saved beside a `.keras` file)
never touches TensorFlow. One made from a Keras model (an old run without that file) imports
TensorFlow, translates the model with `core.models.numpy_forward`, checks the translation against
the model itself, and falls back to a compiled `tf.function` for a model the translation does not
cover or does not match.
"""

from __future__ import annotations

import numpy as np

from core.data.mnist import IMAGE_SHAPE, NUM_CLASSES
from core.models.numpy_forward import MATCH_TOLERANCE, UnsupportedModel, probe_images, translate_checked  # noqa: F401
from core.models.numpy_model import NumpyModel


class DigitPredictor:
    """A trained model wrapped for fast predictions on a few images.

    Safe to share between threads (Streamlit sessions); it never changes the model, and reads its
    weights once, when made.

    Attributes:
        model: the model it was made from: a `NumpyModel` or a Keras model.
        backend: `"numpy"` (a `NumpyModel`: given, or the Keras model's layers translated by
            `core.models.numpy_forward` and checked against the model) or `"tensorflow"` (a
            compiled `tf.function` call of the Keras model).
        fallback_reason: why the NumPy translation is not used, or None when it is.
        numpy_model: the `NumpyModel` it predicts with, or None on the `"tensorflow"` backend.

    Args:
        model: a `NumpyModel` (no TensorFlow is imported) or a built Keras model, taking float32
            `(batch, 28, 28, 1)` images in `[0, 1]` and returning class probabilities
            `(batch, 10)`, e.g. `core.runs.store.load_numpy_model(...)` or a zoo model.

    Raises:
        ValueError: if the model's output is not `(batch, 10)`.
    """

    def __init__(self, model):
        self.model = model
        if isinstance(model, NumpyModel):
            self._call, self._forward, self.fallback_reason = None, model, None
            self.backend = "numpy"
            if model.input_shape != (*IMAGE_SHAPE, 1):
                raise ValueError(f"`model` must take (28, 28, 1) images. Received a model whose input shape is {model.input_shape}.")
            check_output_shape(model(np.zeros((1, *IMAGE_SHAPE, 1), np.float32)).shape)
            return
        import tensorflow as tf

        self._call = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, *IMAGE_SHAPE, 1), tf.float32)],
        )
        output = self._call(np.zeros((1, *IMAGE_SHAPE, 1), np.float32))  # trace now, not on the first stroke
        check_output_shape(tuple(output.shape))
        self._forward, self.fallback_reason = self._numpy_forward_matching(model)
        self.backend = "tensorflow" if self._forward is None else "numpy"

    @property
    def numpy_model(self) -> NumpyModel | None:
        return self._forward

    def _numpy_forward_matching(self, model):
        """The model's NumPy translation if it matches the model on probe images, else (None, why)."""
        try:
            return translate_checked(model, reference=lambda x: self._call(x).numpy()), None
        except UnsupportedModel as error:
            return None, str(error)

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


def check_output_shape(shape: tuple) -> None:
    """Refuse a model whose output for one image is not `NUM_CLASSES` probabilities."""
    if tuple(shape) != (1, NUM_CLASSES):
        raise ValueError(
            f"`model` must output {NUM_CLASSES} class probabilities per image. "
            f"Received a model whose output has shape {tuple(shape)} for one image."
        )
