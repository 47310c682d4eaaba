"""How big a zoo model of a config is, counted layer by layer without building it (no TensorFlow).

What the server needs to know before a training starts (how long, how much memory), from the
same layers `core.models.keras_models` builds: the parameters, the multiply-adds of one image's
forward pass, and the numbers each image leaves in memory between the forward and the backward
pass (every layer's output; a `Dense` or `Conv2D` with an activation keeps its output before and
after it). `tests/test_model_size.py` checks the parameters against Keras's own `count_params()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config.train_config import TrainConfig
from core.config.zoo import SPECS

PIXELS = 28 * 28
NUM_CLASSES = 10
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}  # copies of the weights each optimizer keeps


@dataclass(frozen=True)
class ModelSize:
    """One model's size: `parameters`, forward `multiply_adds` per image, `activations` (floats) per image."""

    parameters: int
    multiply_adds: int
    activations: int

    def __add__(self, other: ModelSize) -> ModelSize:
        return ModelSize(self.parameters + other.parameters, self.multiply_adds + other.multiply_adds,
                         self.activations + other.activations)


def _dense(inputs: int, units: int, bias: bool = True, kept: int = 2) -> ModelSize:
    """A `Dense` layer; `kept` outputs per unit stay for the backward pass (2: before and after its activation)."""
    return ModelSize(inputs * units + (units if bias else 0), inputs * units, kept * units)


def _conv(side: int, channels_in: int, channels_out: int, kernel: int = 5, bias: bool = True) -> ModelSize:
    """A `Conv2D` with ReLU whose output is `side × side × channels_out`."""
    outputs = side * side * channels_out
    weights = kernel * kernel * channels_in * channels_out
    return ModelSize(weights + (channels_out if bias else 0), outputs * kernel * kernel * channels_in, 2 * outputs)


def _kept(numbers: int) -> ModelSize:
    """A layer without weights (pooling, dropout, rescaling, augmentation) whose output stays for the backward pass."""
    return ModelSize(0, 0, numbers)


def _hidden_units(config: TrainConfig) -> int:
    return config.hidden_units or SPECS[config.model].default_hidden_units


def model_size(config: TrainConfig) -> ModelSize:
    """Count the model `config` describes.

    Args:
        config: any zoo model's config (`numpy_logreg` counts as the one dense layer it is).

    Returns:
        A `ModelSize`; `activations` include the input image and any rescaling or augmentation layers.
    """
    size = _kept(PIXELS)
    if config.pixel_scale == "raw" and config.model != "numpy_logreg":
        size += _kept(PIXELS)  # the Rescaling layer's output
    size += _kept(PIXELS * sum(1 for amount in (config.augment_rotation, config.augment_zoom, config.augment_shift) if amount))
    units = _hidden_units(config)
    dropout = config.dropout > 0
    if config.model in ("numpy_logreg", "softmax"):
        return size + _dense(PIXELS, NUM_CLASSES)
    if config.model == "mlp":
        for inputs in (PIXELS, units):
            size += _dense(inputs, units) + _kept(units if dropout else 0)
        return size + _dense(units, NUM_CLASSES)
    if config.model in ("cnn", "cnn_deep"):
        bias = config.model == "cnn_deep"
        size += _conv(28, 1, 32, bias=bias) + _kept(14 * 14 * 32) + _conv(14, 32, 64, bias=bias) + _kept(7 * 7 * 64)
        return size + _dense(7 * 7 * 64, units) + _kept(units) + _dense(units, NUM_CLASSES)  # the models always drop out
    if config.model == "lenet5":
        size += _conv(28, 1, 6) + _kept(14 * 14 * 6) + _conv(10, 6, 16) + _kept(5 * 5 * 16)
        size += _dense(5 * 5 * 16, units) + _dense(units, 84) + _kept(84 if dropout else 0)
        return size + _dense(84, NUM_CLASSES)
    if config.model == "fast":
        if config.pixel_scale == "unit":
            size += _kept(PIXELS)  # the standardizing layer
        size += _conv(24, 1, 16) + _kept(12 * 12 * 16) + _conv(8, 16, 32) + _kept(4 * 4 * 32)
        batch_norm = ModelSize(4 * units, 0, 2 * units)  # scale, offset and two moving statistics; its output and the activation's
        size += _dense(4 * 4 * 32, units, bias=False, kept=1) + batch_norm + _kept(units if dropout else 0)
        return size + _dense(units, NUM_CLASSES)
    raise ValueError(f"Received an invalid value for `model`: {config.model!r}. Pass one of {list(SPECS)}.")


def training_flops(config: TrainConfig) -> int:
    """Floating-point operations of one image's training step: forward and backward, about three forward passes."""
    return 3 * 2 * model_size(config).multiply_adds


SAVING_COPIES = 2  # fitted, not derived: the wide MLP's measured peaks held more than weights, gradients and slots


def weight_copies(config: TrainConfig) -> int:
    """Copies of the parameters a training's worker holds at its peak.

    The weights, their gradients and the optimizer's slots, plus `SAVING_COPIES` that
    `bench/job_memory.py` measured beyond those (the initial values as built, the copies made
    while the model is saved and translated to NumPy, are the likely holders).
    """
    if config.model == "numpy_logreg":
        return 2
    return 2 + OPTIMIZER_SLOTS.get(config.optimizer, 2) + SAVING_COPIES
