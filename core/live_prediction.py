"""Classify one drawing at interactive speed: a model call compiled once, no `model.predict`.

`model.predict` spends ~35 ms per call setting up a data pipeline, and an eager
`model(x, training=False)` re-dispatches every layer from Python (measured 1-13 ms on two busy
cores). A `tf.function` with a fixed input signature is traced once and then runs the whole
graph in one call: ~1-2 ms for the shipped model (`bench/sketch_latency.py`).
"""

from __future__ import annotations

import numpy as np

from core.data import IMAGE_SHAPE, NUM_CLASSES


class DigitPredictor:
    """A loaded Keras model wrapped for fast predictions on a few images.

    Safe to share between threads (Streamlit sessions); it never changes the model.

    Args:
        model: a built Keras model taking float32 `(batch, 28, 28, 1)` images in `[0, 1]`
            and returning class probabilities `(batch, 10)`, e.g. a zoo model or
            `core.runs.load_model(...)`.

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
        return self._call(images.reshape(-1, *IMAGE_SHAPE, 1)).numpy()

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities for one image.

        Args:
            image: float array of shape `(28, 28)` or `(28, 28, 1)` with values in `[0, 1]`,
                as `core.preprocess.canvas_to_input` returns.

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
