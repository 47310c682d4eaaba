"""A `NumpyModel`'s logits and their gradient with respect to its input: a backward pass in NumPy.

Attribution asks how each input pixel moves one class's score. The score used is the logit, the
value before the final softmax: a softmax output near 1 is flat (a confident model's probability
barely moves, so its gradient says little), while the logit keeps moving. Every zoo model ends in
a softmax (a Dense layer's activation, or a Softmax / Activation layer); `LogitModel` runs the
model without it.

For a 28×28 image the backward pass costs about as much as the forward pass, a few milliseconds
in NumPy for the shipped model, with no worker round trip and no TensorFlow in the web server
(the README's "Attribution" section has the measured choice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.mnist import NUM_CLASSES
from core.explain.layer_gradients import differentiable_step
from core.models.numpy_model import NumpyModel
from core.models.numpy_model_layers import LayerSpec, UnsupportedModel, build_layer

SOFTMAX_LAYERS = ("Softmax",)


@dataclass(frozen=True)
class LogitGradients:
    """What one backward pass gives, for a batch of `n` inputs.

    Attributes:
        logits: float32 `(n, 10)`, the scores before the softmax.
        input_gradient: float32 `(n, *input_shape)`, d logits[i, targets[i]] / d x[i].
        layer_output: float32 output of the layer asked for (e.g. `(n, 8, 8, 32)`), or None.
        layer_gradient: the target logit's gradient with respect to `layer_output`, or None.
    """

    logits: np.ndarray
    input_gradient: np.ndarray
    layer_output: np.ndarray | None = None
    layer_gradient: np.ndarray | None = None


def without_final_softmax(layers: tuple[LayerSpec, ...]) -> list[LayerSpec]:
    """The layers computing the logits: the last softmax removed (a layer, or a layer's activation)."""
    layers = list(layers)
    last = layers[-1]
    if last.class_name in SOFTMAX_LAYERS or (last.class_name == "Activation" and last.config.get("activation") == "softmax"):
        return layers[:-1]
    if last.config.get("activation") == "softmax":
        layers[-1] = LayerSpec(last.class_name, last.name, {**last.config, "activation": "linear"}, last.weights)
    return layers


class LogitModel:
    """A `NumpyModel` run up to its logits, forward and backward.

    Safe to share between threads: it keeps no state between calls.

    Args:
        model: a `NumpyModel` taking `(28, 28, 1)` images and ending in a 10-way softmax (or in
            10 scores, which are then taken as the logits).

    Raises:
        UnsupportedModel: if a layer has no NumPy gradient.

    Attributes:
        model: the model.
        layers: the `LayerSpec`s computing the logits.
        last_conv_index: the index in `layers` of the last Conv2D, or None for a model without one.
    """

    def __init__(self, model: NumpyModel):
        self.model = model
        self.layers = tuple(without_final_softmax(model.layers))
        self._steps = [differentiable_step(layer) for layer in self.layers]
        self._inference = [build_layer(layer) for layer in self.layers]
        conv = [index for index, layer in enumerate(self.layers) if layer.class_name == "Conv2D"]
        self.last_conv_index = conv[-1] if conv else None

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The logits of a batch.

        Args:
            x: float array `(n, 28, 28, 1)`.

        Returns:
            float32 `(n, 10)`.
        """
        x = np.asarray(x, dtype=np.float32)
        for step in self._inference:
            x = step(x)
        return x.astype(np.float32, copy=False)

    def gradients(self, x: np.ndarray, targets: np.ndarray, layer_index: int | None = None) -> LogitGradients:
        """The target logit of each input and its gradient, by one forward and one backward pass.

        Args:
            x: float array `(n, 28, 28, 1)`.
            targets: int array `(n,)`, the class whose logit each input's gradient is of.
            layer_index: an index into `layers` whose output and gradient to return as well (the
                last convolution's, `last_conv_index`, for Grad-CAM); None = none.

        Returns:
            A `LogitGradients`.

        Raises:
            ValueError: if `targets` is not one digit 0..9 per input.
        """
        x = np.asarray(x, dtype=np.float32)
        targets = np.asarray(targets)
        if targets.shape != (len(x),) or targets.dtype.kind not in "iu" or targets.min(initial=0) < 0 \
                or targets.max(initial=0) >= NUM_CLASSES:
            raise ValueError(f"`targets` must hold one digit 0..9 per input ({len(x)}). Received: targets={targets!r}")
        caches, outputs = [], []
        h = x
        for step in self._steps:
            h, cache = step.forward(h)
            caches.append(cache)
            outputs.append(h)
        logits = h.astype(np.float32, copy=False)
        gradient = np.zeros_like(logits)
        gradient[np.arange(len(x)), targets] = 1.0
        layer_output = layer_gradient = None
        for index in range(len(self._steps) - 1, -1, -1):
            if index == layer_index:
                layer_output, layer_gradient = outputs[index], gradient
            gradient = self._steps[index].backward(gradient, caches[index]).astype(np.float32, copy=False)
        return LogitGradients(logits, gradient, layer_output, layer_gradient)


def logit_model(model: NumpyModel) -> LogitModel | None:
    """`LogitModel(model)`, or None where a layer has no NumPy gradient."""
    try:
        return LogitModel(model)
    except UnsupportedModel:
        return None
