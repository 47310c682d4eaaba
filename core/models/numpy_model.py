"""A trained model as a NumPy file, and the model that runs it: what the web server predicts with.

A `.keras` file needs Keras to open and TensorFlow to run: ~5 s of import and ~600 MiB in
the web server. The process that trains a model (it has Keras anyway) also saves its layers as
plain arrays, beside the `.keras` file, once `core.models.numpy_forward` has checked that this
NumPy translation computes what the Keras model computes. This module reads and runs that file
and imports neither Keras nor TensorFlow.

The file, `<model>.numpy.npz` (e.g. `model.numpy.npz` in a run folder), is an uncompressed
`.npz` read with `allow_pickle=False`, so no code from it ever runs:

    spec               a 0-d string array holding JSON: {"format": "mnist-lab-numpy-model",
                       "version": 1, "input_shape": [28, 28, 1], "output_shape": [10],
                       "layers": [{"class_name": "Conv2D", "name": "conv2d",
                                   "config": {...}, "weights": ["kernel", "bias"]}, ...]}
    <i>.<weight>       float32 arrays, e.g. `1.kernel` for the weight `kernel` of the second
                       layer in the list

Only the layers that compute something are listed (dropout and augmentation are identities at
inference); each keeps the config fields its computation reads
(`core.models.numpy_model_layers.CONFIG_FIELDS`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from core.models.blas_threads import one_blas_thread
from core.models.numpy_model_layers import LayerSpec, UnsupportedModel, build_layer, build_steps

FORMAT = "mnist-lab-numpy-model"
FORMAT_VERSION = 1
SPEC_KEY = "spec"
PREDICT_BATCH_SIZE = 64  # images per NumPy call: a conv's patches stay within a few MB (64 took less CPU than 128-512 here)


class NumpyModelError(ValueError):
    """A NumPy model file cannot be read: missing parts, wrong shapes, an unknown layer or version."""


class NumpyModel:
    """A Sequential model's inference, layer by layer, in NumPy.

    Safe to share between threads (Streamlit sessions): its weights are read-only arrays and a
    call keeps no state.

    Args:
        layers: the model's computing layers, input side first.
        input_shape: one input's shape, e.g. `(28, 28, 1)`.

    Raises:
        UnsupportedModel: if a layer or one of its settings has no NumPy translation.

    Attributes:
        layers: the `LayerSpec`s, input side first.
        input_shape: one input's shape.
    """

    def __init__(self, layers: list[LayerSpec], input_shape: tuple[int, ...]):
        for layer in layers:
            for array in layer.weights.values():
                array.setflags(write=False)  # shared by every session: never changed
        self.layers = tuple(layers)
        self.input_shape = tuple(int(size) for size in input_shape)
        self._steps = [build_layer(layer) for layer in self.layers]  # layer by layer: what each outputs
        self._plan = build_steps(self.layers)  # the output alone, a convolution and its pooling fused

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The model's output for a batch, as `model(x, training=False)`.

        Args:
            x: float array of shape `(n, *input_shape)`.

        Returns:
            float32 array of shape `(n, *output_shape)`.
        """
        x = np.asarray(x, dtype=np.float32)
        for step in self._plan:
            x = step(x)
        return x.astype(np.float32, copy=False)

    def predict(self, x: np.ndarray, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
        """The model's output for many inputs, `batch_size` at a time (bounded memory), on one BLAS thread.

        One BLAS thread (`core.models.blas_threads`): a batch's matmuls are small, and OpenBLAS's
        hand-overs between two threads wait for the scheduler on a busy machine. The `fast` model
        on the 10,000 test digits at load 13-15 (2 cores): 1.1-1.8 s on one thread, 6-18 s on two
        (and 4-9x the CPU time, spent spinning).

        Args:
            x: float array of shape `(n, *input_shape)`.
            batch_size: inputs per NumPy call.

        Returns:
            float32 array of shape `(n, *output_shape)`.
        """
        with one_blas_thread():
            return np.concatenate([self(x[start : start + batch_size]) for start in range(0, len(x), batch_size)])

    def layer_outputs(self, x: np.ndarray, class_name: str) -> list[tuple[LayerSpec, np.ndarray]]:
        """What every layer of one kind outputs for a batch, activation included.

        Args:
            x: float array of shape `(n, *input_shape)`.
            class_name: the layers' Keras class, e.g. `"Conv2D"`.

        Returns:
            `(layer, output)` pairs, input side first; the outputs are float32 `(n, ...)`.
        """
        found = []
        x = np.asarray(x, dtype=np.float32)
        last = max((index for index, layer in enumerate(self.layers) if layer.class_name == class_name), default=-1)
        for layer, step in zip(self.layers[: last + 1], self._steps):
            x = step(x)
            if layer.class_name == class_name:
                found.append((layer, x.astype(np.float32, copy=False)))
        return found

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to a `.npz` file (see the module docstring for its contents).

        Args:
            path: the file to write; give it the `.npz` ending (NumPy adds one otherwise).
        """
        output = self(np.zeros((1, *self.input_shape), np.float32))
        layers = [{"class_name": layer.class_name, "name": layer.name, "config": layer.config,
                   "weights": sorted(layer.weights)} for layer in self.layers]
        spec = {"format": FORMAT, "version": FORMAT_VERSION, "input_shape": list(self.input_shape),
                "output_shape": list(output.shape[1:]), "layers": layers}
        arrays = {f"{index}.{name}": array for index, layer in enumerate(self.layers)
                  for name, array in layer.weights.items()}
        with open(path, "wb") as file:
            np.savez(file, **{SPEC_KEY: np.array(json.dumps(spec))}, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumpyModel:
        """Read a model written by `save`, and check that it computes outputs of its declared shape.

        Args:
            path: a `.npz` file.

        Returns:
            The model.

        Raises:
            NumpyModelError: if the file is not such a model (the message says what is wrong).
            OSError: if the file cannot be read; `ValueError` and zip errors if it is no `.npz`.
        """
        with np.load(Path(path), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        return cls.from_arrays(arrays)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> NumpyModel:
        """The model held by a file's arrays (see `load`)."""
        spec = read_spec(arrays)
        layers = []
        for index, entry in enumerate(spec["layers"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("weights"), list):
                raise NumpyModelError(f"layer {index} of the spec is not a layer description")
            weights = {}
            for name in entry["weights"]:
                key = f"{index}.{name}"
                if key not in arrays:
                    raise NumpyModelError(f"the weight {key!r} is missing")
                if arrays[key].dtype != np.float32:
                    raise NumpyModelError(f"the weight {key!r} is {arrays[key].dtype}, not float32")
                weights[name] = arrays[key]
            layers.append(LayerSpec(class_name=str(entry.get("class_name")), name=str(entry.get("name")),
                                    config=dict(entry.get("config") or {}), weights=weights))
        try:
            model = cls(layers, tuple(spec["input_shape"]))
            output = model(np.zeros((1, *model.input_shape), np.float32))
        except UnsupportedModel as error:
            raise NumpyModelError(str(error)) from None
        except (KeyError, TypeError, ValueError, IndexError) as error:  # a config field or a shape that does not fit
            raise NumpyModelError(f"its layers do not fit together ({type(error).__name__}: {error})") from None
        if list(output.shape[1:]) != list(spec["output_shape"]) or not np.isfinite(output).all():
            raise NumpyModelError(f"it computes outputs of shape {output.shape[1:]}, not the {spec['output_shape']} it declares")
        return model


def read_spec(arrays: dict[str, np.ndarray]) -> dict:
    """The JSON description in a file's arrays, checked for its format and version."""
    if SPEC_KEY not in arrays or arrays[SPEC_KEY].dtype.kind != "U" or arrays[SPEC_KEY].ndim != 0:
        raise NumpyModelError(f"it has no {SPEC_KEY!r} text describing its layers")
    try:
        spec = json.loads(str(arrays[SPEC_KEY]))
    except ValueError:
        raise NumpyModelError(f"its {SPEC_KEY!r} text is not JSON") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise NumpyModelError(f"it is not a {FORMAT} file")
    if spec.get("version") != FORMAT_VERSION:
        raise NumpyModelError(f"it has format version {spec.get('version')!r}; this code reads version {FORMAT_VERSION}")
    for key in ("input_shape", "output_shape", "layers"):
        if not isinstance(spec.get(key), list):
            raise NumpyModelError(f"its spec has no {key!r} list")
    if not all(isinstance(size, int) and size > 0 for size in spec["input_shape"] + spec["output_shape"]):
        raise NumpyModelError("its input or output shape is not a list of positive integers")
    return spec
