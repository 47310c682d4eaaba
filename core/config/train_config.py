"""The training configuration: every knob a person can turn, validated where it is made."""

from __future__ import annotations

import dataclasses
import math
import reprlib
from dataclasses import dataclass, fields
from typing import Any

from core.config.zoo import MODEL_NAMES, SPECS

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "elu", "gelu", "linear")
INITIALIZERS = (
    "preset",  # whatever the model's write-up used
    "glorot_uniform",
    "glorot_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "normal",  # N(0, 1), as in write-ups 001 and 003
    "truncated_normal",  # truncated N(0, 0.1), as in write-up 002
)
VALIDATIONS = ("holdout", "test", "none")
SCHEDULES = ("constant", "one_cycle")
PIXEL_SCALES = ("unit", "raw")  # inputs in [0, 1], or raw 0..255 as write-ups 001 used

MAX_EPOCHS = 1000  # the softmax preset's 1000 full-batch steps are 1000 epochs
MAX_BATCH_SIZE = 60_000
MAX_HIDDEN_UNITS = 4096
MAX_LEARNING_RATE = 10.0
MAX_CHECKPOINT_BUDGET_MB = 10_000.0


class ConfigError(ValueError):
    """A hyperparameter is out of range or of the wrong type; the message names the fix."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run. Presets live in `core.config.zoo`."""

    model: str = "lenet5"
    epochs: int = 10
    batch_size: int = 128  # 0 = full batch (the whole training set in one step)
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9  # used by the `momentum` optimizer only
    schedule: str = "constant"  # `one_cycle`: warm up to `learning_rate`, then anneal to ~0
    activation: str = "relu"  # of the hidden layers
    initializer: str = "preset"
    hidden_units: int = 0  # width of the hidden dense layer(s); 0 = the preset's
    dropout: float = 0.0
    patience: int = 0  # epochs without val_loss improvement before stopping; 0 = never
    restore_best_weights: bool = True
    keep_best_epoch: bool = True  # the run's final model is its best epoch's (lowest val_loss); needs validation
    checkpoint_budget_mb: float = 50.0  # disk for the per-epoch checkpoints; past it, every k-th + first, best, last; 0 = none
    target_accuracy: float = 0.0  # stop once train accuracy exceeds this; 0 = never
    augment_shift: float = 0.0  # random shift, fraction of the image size
    augment_rotation: float = 0.0  # random rotation, degrees
    augment_zoom: float = 0.0  # random zoom, fraction
    train_size: int = 0  # a random subset of the training images; 0 = all
    validation: str = "holdout"  # `holdout`: 5,000 train images; `test`: the test set (write-up 004)
    validation_size: int = 5000
    pixel_scale: str = "unit"
    seed: int = 0

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            _check_type(field.name, value, field.type)
        _check_choice("model", self.model, MODEL_NAMES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("initializer", self.initializer, INITIALIZERS)
        _check_choice("validation", self.validation, VALIDATIONS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("pixel_scale", self.pixel_scale, PIXEL_SCALES)
        _check_range("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_range("batch_size", self.batch_size, 0, MAX_BATCH_SIZE)
        _check_range("learning_rate", self.learning_rate, 0.0, MAX_LEARNING_RATE, low_open=True)
        _check_range("momentum", self.momentum, 0.0, 1.0, high_open=True)
        _check_range("hidden_units", self.hidden_units, 0, MAX_HIDDEN_UNITS)
        _check_range("dropout", self.dropout, 0.0, 1.0, high_open=True)
        _check_range("patience", self.patience, 0, MAX_EPOCHS)
        _check_range("checkpoint_budget_mb", self.checkpoint_budget_mb, 0.0, MAX_CHECKPOINT_BUDGET_MB)
        _check_range("target_accuracy", self.target_accuracy, 0.0, 1.0, high_open=True)
        _check_range("augment_shift", self.augment_shift, 0.0, 0.5)
        _check_range("augment_rotation", self.augment_rotation, 0.0, 180.0)
        _check_range("augment_zoom", self.augment_zoom, 0.0, 0.5)
        _check_range("train_size", self.train_size, 0, 60_000)
        if self.train_size == 1:
            raise ConfigError(
                "Received an invalid value for `train_size`: one image cannot be trained on. "
                "Pass at least 2 (a few hundred for a meaningful demo), or 0 for all images."
            )
        _check_range("validation_size", self.validation_size, 1, 30_000)
        _check_range("seed", self.seed, 0, 2**31 - 1)
        if self.model == "numpy_logreg" and (self.optimizer != "sgd" or self.schedule != "constant" or self.augments):
            raise ConfigError(
                "`numpy_logreg` trains by plain gradient descent only: pass `optimizer='sgd'`, "
                "`schedule='constant'` and no augmentation, or pick a Keras model such as `softmax`."
            )
        if self.patience and self.validation == "none":
            raise ConfigError(
                "Early stopping watches `val_loss`, but `validation='none'`. "
                "Pass `validation='holdout'` or `'test'`, or `patience=0`."
            )
        if self.train_size and self.batch_size > self.train_size:
            raise ConfigError(
                f"`batch_size`={self.batch_size} is larger than the training subset "
                f"(`train_size`={self.train_size}). Pass a batch size of at most {self.train_size}, "
                "a larger `train_size`, or `batch_size=0` for full-batch training."
            )

    @property
    def augments(self) -> bool:
        return bool(self.augment_shift or self.augment_rotation or self.augment_zoom)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with `changes` applied (coerced from strings where needed) and validated."""
        return from_dict({**dataclasses.asdict(self), **changes})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELD_TYPES = {field.name: field.type for field in fields(TrainConfig)}


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """Build a config from loosely typed values (CLI flags, URL query parameters, JSON).

    Strings are coerced to each field's type; unknown keys are refused.

    Raises:
        ConfigError: naming the field, the value received and what is expected.
    """
    unknown = sorted(set(values) - set(FIELD_TYPES))
    if unknown:
        raise ConfigError(f"Unknown hyperparameter(s) {_shown(unknown)}. Known: {sorted(FIELD_TYPES)}.")
    return TrainConfig(**{name: coerce(name, value) for name, value in values.items()})


def coerce(name: str, value: Any) -> Any:
    """Convert a string from a flag or URL to field `name`'s type; other values pass through."""
    kind = FIELD_TYPES[name]
    if not isinstance(value, str) or kind == "str":
        return value
    text = value.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
    except ValueError:
        raise ConfigError(
            f"Received an invalid value for `{name}`, expected {_describe(kind)}. Received: {name}={_shown(value)}"
        ) from None
    return value


_SHORT_REPR = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 80


def _shown(value: Any) -> str:
    """`repr(value)`, cut short: a hostile 1 MB query parameter must not fill the error box."""
    return _SHORT_REPR.repr(value)


def _describe(kind: str) -> str:
    return {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}[kind]


def _check_type(name: str, value: Any, kind: str) -> None:
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigError(
            f"Received an invalid value for `{name}`, expected {_describe(kind)}. Received: {name}={_shown(value)}"
        )
    if kind == "float" and not _is_finite(value):
        raise ConfigError(f"Received an invalid value for `{name}`, expected a finite number. Received: {name}={_shown(value)}")


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float, e.g. 10**400 from JSON
        return False


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise ConfigError(f"Received an invalid value for `{name}`: {_shown(value)}. Pass one of {list(choices)}.")


def _check_range(name, value, low, high, low_open=False, high_open=False) -> None:
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(f"Received an invalid value for `{name}`, expected a value in {interval}. Received: {name}={_shown(value)}")


def preset_config(model: str, **overrides: Any) -> TrainConfig:
    """The `TrainConfig` of `model`'s write-up, with `overrides` applied and validated.

    Raises:
        ConfigError: for an unknown model or an invalid override.
    """
    if model not in SPECS:
        raise ConfigError(f"Unknown model {model!r}. Pass one of {list(MODEL_NAMES)}.")
    return from_dict({"model": model, **SPECS[model].preset, **overrides})
