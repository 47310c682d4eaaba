"""What a classifier sees just before it decides: its penultimate layer's activations and its logits.

Every zoo model ends in one `Dense(10)` whose softmax gives the probabilities. The input of that
layer is the model's feature vector for an image (what the embedding map reduces to 2-D, what the
"not a digit" check measures distances in), and its output before the softmax are the logits (the
energy score reads them). Both come from a `NumpyModel` (the web server, no TensorFlow) or from a
Keras model (the worker, where TensorFlow computes them faster); the two agree to float32 rounding
because the NumPy translation was checked against Keras when it was saved.

With `pooled=True` the function also returns a conv model's pooled features: the output of its last
pooling layer before the head, flattened (`(n, p)`; None for a model without one, e.g. an MLP). The
"not a digit" check measures how far they lie from the training digits' (`core.novelty`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.models.numpy_model import PREDICT_BATCH_SIZE, NumpyModel
from core.models.numpy_model_layers import LayerSpec, UnsupportedModel, build_layer

FeaturesAndLogits = Callable[[np.ndarray], tuple[np.ndarray, ...]]  # (features, logits[, pooled or None])
SOFTMAX_AFTER = ("Softmax", "Activation")  # layers that may follow the last Dense: its softmax, on its own
POOLING_LAYERS = ("MaxPooling2D", "AveragePooling2D")


def last_pooling(class_names: list[str], head: int) -> int | None:
    """The index of the last pooling layer before the head (`class_names[:head]`), None if there is none."""
    found = [index for index, name in enumerate(class_names[:head]) if name in POOLING_LAYERS]
    return found[-1] if found else None


def classifier_head(layers: list[LayerSpec] | tuple[LayerSpec, ...]) -> int:
    """The index of the last `Dense` layer, the one whose softmax gives the probabilities.

    Raises:
        UnsupportedModel: if there is none, or something other than a softmax follows it.
    """
    dense = [index for index, layer in enumerate(layers) if layer.class_name == "Dense"]
    if not dense:
        raise UnsupportedModel("the model has no Dense layer giving its class scores, so it has no penultimate layer")
    head = dense[-1]
    for layer in layers[head + 1:]:
        if layer.class_name not in SOFTMAX_AFTER or layer.config.get("activation", "softmax") != "softmax":
            raise UnsupportedModel(f"layer `{layer.name}` ({layer.class_name}) follows the last Dense layer; "
                                   "only a softmax may, for its inputs to be the model's features")
    activation = layers[head].config.get("activation")
    if activation not in ("softmax", "linear", None):
        raise UnsupportedModel(f"the last Dense layer `{layers[head].name}` has activation {activation!r}, not softmax")
    return head


def logits_of(head: LayerSpec, features: np.ndarray) -> np.ndarray:
    """The last Dense layer's output before its softmax, float32 `(n, 10)`."""
    logits = features @ head.weights["kernel"]
    if "bias" in head.weights:
        logits = logits + head.weights["bias"]
    return logits.astype(np.float32, copy=False)


def numpy_features_and_logits(model: NumpyModel, pooled: bool = False) -> FeaturesAndLogits:
    """A function from images to `(features, logits)` that runs `model`'s layers in NumPy.

    Args:
        model: a `NumpyModel` whose last Dense layer gives the class scores.
        pooled: also return the pooled features (see the module docstring) as a third value.

    Returns:
        A function taking float32 images `(n, 28, 28, 1)` in `[0, 1]` and returning float32
        `(n, d)` features (the last Dense layer's input) and `(n, 10)` logits (and, with `pooled`,
        `(n, p)` pooled features or None), `PREDICT_BATCH_SIZE` images at a time.

    Raises:
        UnsupportedModel: if the model does not end in a Dense layer with a softmax.
    """
    head = classifier_head(model.layers)
    steps = [build_layer(layer) for layer in model.layers[:head]]
    pooling = last_pooling([layer.class_name for layer in model.layers], head) if pooled else None

    def features_of(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        x, kept = np.asarray(images, dtype=np.float32), None
        for index, step in enumerate(steps):
            x = step(x)
            if index == pooling:
                kept = x.reshape(len(x), -1).astype(np.float32, copy=False)
        return x.reshape(len(x), -1).astype(np.float32, copy=False), kept

    def features_and_logits(images: np.ndarray) -> tuple[np.ndarray, ...]:
        images = np.asarray(images, dtype=np.float32).reshape(-1, *model.input_shape)
        batches = [images[start:start + PREDICT_BATCH_SIZE] for start in range(0, len(images), PREDICT_BATCH_SIZE)]
        parts = [features_of(batch) for batch in batches or [np.zeros((1, *model.input_shape), np.float32)]]
        count = len(images)  # an empty batch: the shapes from one blank image, cut to none
        features = np.concatenate([part[0] for part in parts])[:count]
        logits = logits_of(model.layers[head], features)
        if not pooled:
            return features, logits
        return features, logits, None if pooling is None else np.concatenate([part[1] for part in parts])[:count]

    return features_and_logits


def keras_features_and_logits(model, head_spec: LayerSpec | None = None, pooled: bool = False) -> FeaturesAndLogits:
    """The same function for a built Keras `Sequential` model, computed by TensorFlow (in a worker).

    Args:
        model: the Keras model; its last layer must be the `Dense` softmax layer.
        head_spec: that layer's `LayerSpec` (from its NumPy translation); read from the model when None.
        pooled: also return the pooled features (see the module docstring) as a third value.

    Raises:
        UnsupportedModel: if the model does not end in a Dense softmax layer.
    """
    import keras

    last = model.layers[-1]
    if type(last).__name__ != "Dense" or getattr(last.activation, "__name__", "") not in ("softmax", "linear"):
        raise UnsupportedModel(f"the model's last layer `{last.name}` is not a Dense softmax layer")
    if head_spec is None:
        weights = {w.name: np.asarray(w.numpy(), dtype=np.float32) for w in last.weights}
        head_spec = LayerSpec(class_name="Dense", name=last.name, config={"activation": "softmax"}, weights=weights)
    pooling = last_pooling([type(layer).__name__ for layer in model.layers], len(model.layers) - 1) if pooled else None
    outputs = [last.input] if pooling is None else [last.input, model.layers[pooling].output]
    extractor = keras.Model(model.inputs, outputs)

    def features_and_logits(images: np.ndarray) -> tuple[np.ndarray, ...]:
        images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
        computed = extractor.predict(images, batch_size=512, verbose=0)
        computed = computed if isinstance(computed, (list, tuple)) else [computed]
        features = np.asarray(computed[0], dtype=np.float32).reshape(len(images), -1)
        if not pooled:
            return features, logits_of(head_spec, features)
        kept = None if pooling is None else np.asarray(computed[1], dtype=np.float32).reshape(len(images), -1)
        return features, logits_of(head_spec, features), kept

    return features_and_logits
