"""A trained Keras classifier translated into a `NumpyModel`: its forward pass in plain NumPy.

A `tf.function` call of even a tiny CNN costs ~3 ms here: TensorFlow's runtime dispatches
every op to its thread pool, and on two cores that pool is shared with any training in
progress. The arithmetic of the shipped model is 2.4 MFLOP, a fraction of a millisecond in
NumPy. `export_numpy_model` reads a `keras.Sequential` model's layers once (their config and
weights) into a `core.models.numpy_model.NumpyModel`; `translate_checked` also checks it
against the Keras model on probe images. The process that trains a model saves the checked
translation beside its `.keras` file (`core.runs.run_writer.RunWriter.save_model`), so the web
server runs it without TensorFlow; `core.drawing.live_prediction.DigitPredictor` translates a
Keras model it is given the same way, and keeps TensorFlow for anything it cannot translate.

This half reads Keras models (duck-typed: it imports neither Keras nor TensorFlow itself, but
needs a Keras model to read); the half that runs a translation is `core.models.numpy_model`.
Inference only: dropout, noise and augmentation layers are the identity, batch normalization
uses its moving statistics, exactly as `model(x, training=False)`.
"""

from __future__ import annotations

import json

import numpy as np

from core.data.mnist import IMAGE_SHAPE
from core.models.numpy_model import NumpyModel
from core.models.numpy_model_layers import (  # noqa: F401  (ACTIVATIONS: the table a translation looks names up in)
    ACTIVATIONS, CONFIG_FIELDS, Forward, LayerSpec, UnsupportedModel,
)

# The NumPy translation must match the Keras model this closely on the probe images.
MATCH_TOLERANCE = 1e-4

# Layers that do nothing when not training.
INFERENCE_IDENTITY = {
    "InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "RandomRotation", "RandomZoom", "RandomTranslation",
    "RandomFlip", "RandomContrast", "RandomBrightness", "RandomCrop",
}


def export_numpy_model(model) -> NumpyModel:
    """Read a Keras `Sequential` model's layers into a `NumpyModel` computing its inference output.

    Args:
        model: a built `keras.Sequential` made of Rescaling, Normalization, Conv2D, MaxPooling2D,
            AveragePooling2D (valid padding), Flatten, Reshape, Dense, BatchNormalization,
            Activation, ReLU, Softmax and inference-time identities (Dropout, Random*).

    Returns:
        A `NumpyModel` whose call on a float32 array `(n, *model input shape)` equals
        `model(x, training=False)` up to float32 rounding.

    Raises:
        UnsupportedModel: naming the first layer (or setting) it cannot translate.
    """
    if type(model).__name__ != "Sequential":
        raise UnsupportedModel(f"only `keras.Sequential` models are translated. Received: {type(model).__name__}")
    layers = [spec for spec in (layer_spec(layer) for layer in model.layers) if spec is not None]
    return NumpyModel(layers, tuple(model.inputs[0].shape[1:]))


def compile_forward(model) -> Forward:
    """A Keras `Sequential` model's inference as a NumPy function (`export_numpy_model`'s call).

    Raises:
        UnsupportedModel: naming the first layer (or setting) it cannot translate.
    """
    return export_numpy_model(model)


def layer_spec(layer) -> LayerSpec | None:
    """One Keras layer's kind, the config fields its computation reads and its weights (None for an identity)."""
    kind = type(layer).__name__
    if kind in INFERENCE_IDENTITY:
        return None
    if kind not in CONFIG_FIELDS:
        raise UnsupportedModel(f"layer `{layer.name}` of type {kind} has no NumPy translation")
    config = layer.get_config()
    if config.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedModel(f"layer `{layer.name}` uses data_format={config['data_format']!r}")
    kept = {field: config.get(field) for field in CONFIG_FIELDS[kind]}
    if "activation" in kept:  # the function's name: what `get_config` serialises may be a dict
        kept["activation"] = getattr(layer.activation, "__name__", str(layer.activation))
    weights = {w.name: np.asarray(w.numpy(), dtype=np.float32) for w in layer.weights}
    if kind == "Normalization":  # its statistics may be constants given to the layer, not weights
        weights = {"mean": np.asarray(layer.mean, dtype=np.float32), "variance": np.asarray(layer.variance, dtype=np.float32)}
    if kind == "BatchNormalization" and config["axis"] not in (-1, [-1], len(layer.input.shape) - 1, [len(layer.input.shape) - 1]):
        raise UnsupportedModel(f"layer `{layer.name}`: batch normalization over axis {config['axis']}")
    try:
        kept = json.loads(json.dumps(kept))  # tuples become lists, as they come back from a file
    except (TypeError, ValueError):
        raise UnsupportedModel(f"layer `{layer.name}` has a setting that cannot be saved as JSON: {kept}") from None
    return LayerSpec(class_name=kind, name=layer.name, config=kept, weights=weights)


def probe_images() -> np.ndarray:
    """Inputs to check a translation on: blank, grey, full, and seeded noise of three densities."""
    rng = np.random.default_rng(0)
    noise = [(rng.random((*IMAGE_SHAPE, 1)) < density) * rng.random((*IMAGE_SHAPE, 1)) for density in (0.1, 0.3, 0.6)]
    constant = [np.full((*IMAGE_SHAPE, 1), value) for value in (0.0, 0.5, 1.0)]
    return np.stack(constant + noise).astype(np.float32)


def translate_checked(model, reference: Forward | None = None) -> NumpyModel:
    """`export_numpy_model(model)`, checked against the Keras model on `probe_images()`.

    Args:
        model: a built Keras model taking `(batch, 28, 28, 1)` images.
        reference: the Keras model's inference as a NumPy-returning function; defaults to
            `model(x, training=False)`.

    Returns:
        The translation; its outputs on the probes are within `MATCH_TOLERANCE` of the model's.

    Raises:
        UnsupportedModel: if a layer cannot be translated, or the translation's outputs differ
            from the model's (the message says by how much).
    """
    translation = export_numpy_model(model)
    probes = probe_images()
    expected = np.asarray(reference(probes) if reference else model(probes, training=False), dtype=np.float32)
    got = translation(probes)
    if got.shape != expected.shape:
        raise UnsupportedModel(f"the NumPy translation outputs shape {got.shape}, the model {expected.shape}")
    difference = float(np.max(np.abs(got - expected)))
    if not difference <= MATCH_TOLERANCE:  # also catches NaN
        raise UnsupportedModel(f"the NumPy translation differs from the model by {difference:.2g} (> {MATCH_TOLERANCE:g})")
    return translation
