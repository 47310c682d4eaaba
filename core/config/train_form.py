"""The Train page's form: one field per `TrainConfig` knob, its bounds, its defaults, and URL presets.

The page renders `FORM_FIELDS` as widgets and turns their values into a config with
`build_config`; a link such as `?model=mlp&learning_rate=0.5` becomes form values through
`values_from_query`. Everything here is plain Python, so tests reach it without a browser.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.config.train_config import (
    ACTIVATIONS, FIELD_TYPES, INITIALIZERS, MAX_BATCH_SIZE, MAX_EPOCHS, MAX_HIDDEN_UNITS, MAX_LEARNING_RATE,
    MAX_CHECKPOINT_BUDGET_MB, OPTIMIZERS, PIXEL_SCALES, SCHEDULES, VALIDATIONS, ConfigError, TrainConfig, from_dict,
)
from core.config.shown_text import cut
from core.config.zoo import MODEL_NAMES, SPECS
from core.config.train_config import preset_config

DEFAULT_MODEL = "fast"
# Models whose write-up epoch over all 55,000-60,000 images takes over ~20 s on a 2-core CPU
# (core/training/epoch_estimate.py's baselines: cnn 53 s, cnn_deep 120 s, lenet5 22 s) start the form on
# this many images, so a first try takes seconds; `train_size` 0 trains on everything, as the
# write-up did. `fast` keeps all images: one 24 s epoch on all of them is its point.
DEMO_TRAIN_SIZE = 5000
DEMO_MODELS = ("cnn", "cnn_deep", "lenet5")
QUERY_KEYS_NOT_CONFIG = ("job",)  # other query parameters the dashboard uses
MAX_VALUE_CHARACTERS = 80  # a value quoted in a message is cut to this, as TrainConfig's messages cut theirs
MAX_IGNORED_KEYS = 10  # unknown query keys listed, at most; the rest are counted
MAX_KEY_CHARACTERS = 40


@dataclass(frozen=True)
class FormField:
    """How one `TrainConfig` field appears on the form. Numeric bounds are closed intervals."""

    name: str
    label: str
    group: str
    help: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    format: str | None = None
    choices: tuple[Any, ...] = ()

    @property
    def kind(self) -> str:
        """`"int"`, `"float"`, `"bool"` or `"str"`, as the config field is typed."""
        return FIELD_TYPES[self.name]


GROUPS = ("Optimisation", "Model", "Stopping", "Data", "Augmentation")
FORM_FIELDS: dict[str, FormField] = {
    field.name: field
    for field in [
        FormField("model", "Model", "Model", "A model from the five write-ups, or this project's fast CNN.", choices=MODEL_NAMES),
        FormField("epochs", "Epochs", "Optimisation", "Passes over the training images.", 1, MAX_EPOCHS, 1),
        FormField("batch_size", "Batch size", "Optimisation", "Images per gradient step; 0 = the whole training set in one step.",
                  0, MAX_BATCH_SIZE, 16),
        FormField("learning_rate", "Learning rate", "Optimisation", "Step size of the optimizer.",
                  1e-6, MAX_LEARNING_RATE, 0.001, "%g"),
        FormField("optimizer", "Optimizer", "Optimisation", "`momentum` is SGD with momentum.", choices=OPTIMIZERS),
        FormField("momentum", "Momentum", "Optimisation", "Used by the `momentum` optimizer only.", 0.0, 0.999, 0.05, "%.3f"),
        FormField("schedule", "Learning-rate schedule", "Optimisation",
                  "`one_cycle` warms up to the learning rate, then anneals it towards 0.", choices=SCHEDULES),
        FormField("activation", "Hidden activation", "Model", "Activation of the hidden dense layers.", choices=ACTIVATIONS),
        FormField("initializer", "Weight initializer", "Model", "`preset` = whatever the write-up used.", choices=INITIALIZERS),
        FormField("hidden_units", "Hidden units", "Model", "Width of the hidden dense layer(s); 0 = the write-up's.",
                  0, MAX_HIDDEN_UNITS, 16),
        FormField("dropout", "Dropout", "Model", "Fraction of hidden units dropped while training.", 0.0, 0.95, 0.05, "%.2f"),
        FormField("patience", "Early-stopping patience", "Stopping",
                  "Epochs without a better `val_loss` before stopping; 0 = never stop early.", 0, MAX_EPOCHS, 1),
        FormField("restore_best_weights", "Restore best weights", "Stopping",
                  "After early stopping, go back to the epoch with the best `val_loss`."),
        FormField("keep_best_epoch", "Keep the best epoch", "Stopping",
                  "The run's final model and test accuracy are those of its epoch with the best `val_loss` "
                  "(needs validation)."),
        FormField("checkpoint_budget_mb", "Checkpoint budget (MB)", "Stopping",
                  "Disk for a checkpoint per epoch; past it, every k-th epoch plus the first, best and last are kept; "
                  "0 = no checkpoints.", 0.0, MAX_CHECKPOINT_BUDGET_MB, 10.0, "%g"),
        FormField("target_accuracy", "Target train accuracy", "Stopping",
                  "Stop once train accuracy exceeds this (write-up 001 stops at 0.80); 0 = never.", 0.0, 0.999, 0.01, "%.3f"),
        FormField("train_size", "Training images", "Data",
                  "A random subset of the training images, for quick demos; 0 = all of them.", 0, 60_000, 500),
        FormField("validation", "Validation", "Data",
                  "`holdout`: the first training images; `test`: the test set (write-up 004); `none`.", choices=VALIDATIONS),
        FormField("validation_size", "Hold-out images", "Data", "Training images held out for validation.", 1, 30_000, 500),
        FormField("pixel_scale", "Pixel scale", "Data", "`unit`: pixels in [0, 1]; `raw`: 0..255 as write-up 001 fed them.",
                  choices=PIXEL_SCALES),
        FormField("seed", "Seed", "Data", "Seeds the weights, the subset and the shuffling.", 0, 2**31 - 1, 1),
        FormField("augment_shift", "Random shift", "Augmentation", "Fraction of the image size.", 0.0, 0.5, 0.05, "%.2f"),
        FormField("augment_rotation", "Random rotation (°)", "Augmentation", "Degrees either way.", 0.0, 180.0, 5.0, "%.0f"),
        FormField("augment_zoom", "Random zoom", "Augmentation", "Fraction either way.", 0.0, 0.5, 0.05, "%.2f"),
    ]
}
assert set(FORM_FIELDS) == set(FIELD_TYPES), "every TrainConfig field needs a form field"


def default_values(model: str) -> dict[str, Any]:
    """The form's values for `model`: its write-up's preset, on a demo-sized subset for slow models.

    Raises:
        ConfigError: for an unknown model.
    """
    if model not in SPECS:
        shown = repr(cut(model, MAX_VALUE_CHARACTERS)) if isinstance(model, str) else cut(repr(model), MAX_VALUE_CHARACTERS)
        raise ConfigError(f"Received an invalid value for `model`: {shown}. Pass one of {list(MODEL_NAMES)}.")
    train_size = DEMO_TRAIN_SIZE if model in DEMO_MODELS else 0
    return preset_config(model, train_size=train_size).to_dict()


WRITE_UP_MODELS = tuple(name for name, spec in SPECS.items() if spec.reproduction is not None)  # the tutorials' models


def write_up_values(model: str) -> dict[str, Any]:
    """The form's values for `model` as its write-up trained it: the preset, on all the training images.

    `default_values` starts the slow models on `DEMO_TRAIN_SIZE` images; these are the settings
    `bench/seeds.py` ran to reproduce the write-up's figure (`SPECS[model].reproduction`).

    Raises:
        ConfigError: for a model that is not one of the write-ups' (`WRITE_UP_MODELS`).
    """
    if model not in WRITE_UP_MODELS:
        shown = repr(cut(model, MAX_VALUE_CHARACTERS)) if isinstance(model, str) else cut(repr(model), MAX_VALUE_CHARACTERS)
        raise ConfigError(f"Received an invalid value for `model`: {shown} has no write-up to reproduce. "
                          f"Pass one of {list(WRITE_UP_MODELS)}.")
    return preset_config(model, train_size=0).to_dict()


def is_write_up(values: Mapping[str, Any]) -> bool:
    """Whether the form's `values` are exactly their model's write-up settings (`write_up_values`)."""
    if values.get("model") not in WRITE_UP_MODELS:
        return False
    try:
        return build_config(values).to_dict() == write_up_values(values["model"])
    except ConfigError:  # the form holds a value it cannot train with
        return False


def write_up_note(values: Mapping[str, Any], write_up_time: str) -> str:
    """Which settings the form is on (the write-up's, the quick subset, or the visitor's own) and what the
    write-up's settings reproduce, in how long here: markdown for the Train page (no visitor text in it).

    Args:
        values: the form's values, for a model of `WRITE_UP_MODELS`.
        write_up_time: the expected time of the write-up's settings on this machine, in words
            (e.g. `"about 9 min 35 s"`, from `core.training.epoch_estimate`).
    """
    model = values["model"]
    reproduction = SPECS[model].reproduction
    config = write_up_values(model)
    stops_early = bool(config["patience"] or config["target_accuracy"])
    stopped = " (it stopped early)" if stops_early and reproduction.epochs < config["epochs"] else ""
    time_text = f"at most {write_up_time}" if stops_early else write_up_time
    result = (f"reached **{reproduction.test_accuracy:.2%} test** in {reproduction.epochs:,} epochs{stopped}; "
              f"they take {time_text} here.")
    try:
        form = build_config(values).to_dict()
    except ConfigError:
        form = {}
    if form == config:
        return f"**As in the write-up**: its settings on all {reproduction.train_size:,} training images {result}"
    if form and {**form, "train_size": config["train_size"]} == config:
        start = f"**Quick subset**: {form['train_size']:,} of the write-up's {reproduction.train_size:,} images."
    else:
        start = "**Your own settings.**"
    return f"{start} The write-up's settings on all {reproduction.train_size:,} images {result}"


def build_config(values: Mapping[str, Any]) -> TrainConfig:
    """The config the form's `values` describe (strings coerced, as from a URL).

    Raises:
        ConfigError: naming the field, the value and the fix.
    """
    return from_dict(dict(values))


def config_query(params: Mapping[str, Any]) -> dict[str, str]:
    """The query parameters that set hyperparameters (all but `QUERY_KEYS_NOT_CONFIG`)."""
    return {key: value for key, value in params.items() if key not in QUERY_KEYS_NOT_CONFIG}


@dataclass(frozen=True)
class LinkSettings:
    """What a link's query parameters did to the form.

    `values` is always a complete, valid set of form values: the fields the link set well, and
    the defaults for the rest. `problems` holds one message per value that was not applied,
    naming its field (values cut to `MAX_VALUE_CHARACTERS`). `ignored` lists query keys that
    are neither form fields nor the dashboard's own, such as `utm_source` or `fbclid`: they are
    left alone, never refused.
    """

    values: dict[str, Any]
    problems: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


def values_from_query(params: Mapping[str, str], model: str = DEFAULT_MODEL) -> LinkSettings:
    """Form values from URL query parameters such as `?model=mlp&learning_rate=0.5`.

    Each value is applied on its own, in the link's order, over the model's defaults: a bad
    value is reported and skipped, and the good ones are still applied. Keys that are not form
    fields (tracking parameters, typos) are ignored and listed.

    Args:
        params: query parameters as strings.
        model: the model whose defaults fill the fields the query leaves out, when the
            query names no valid `model`.

    Returns:
        A `LinkSettings` whose `values` are valid and inside the form's bounds.
    """
    overrides = config_query(params)
    wanted = {name: value for name, value in overrides.items() if name in FORM_FIELDS}
    ignored = tuple(ignored_key(key) for key in overrides if key not in FORM_FIELDS)
    if len(ignored) > MAX_IGNORED_KEYS:
        ignored = ignored[:MAX_IGNORED_KEYS] + (f"and {len(ignored) - MAX_IGNORED_KEYS} more",)
    problems: list[str] = []
    values = default_values(model)
    if "model" in wanted:
        try:
            values = default_values(wanted.pop("model"))
        except ConfigError as error:
            problems.append(str(error))
    for name, value in wanted.items():
        try:
            candidate = build_config({**values, name: value}).to_dict()
            check_in_form(name, candidate[name])
        except ConfigError as error:
            problems.append(str(error))
        else:
            values = candidate
    return LinkSettings(values, tuple(problems), ignored)


def ignored_key(key: object) -> str:
    """An unknown query key as the page lists it: cut, with the form field it may have meant."""
    shown = cut(key, MAX_KEY_CHARACTERS)
    meant = difflib.get_close_matches(str(key), list(FORM_FIELDS), n=1, cutoff=0.8)
    return f"{shown} (did you mean {meant[0]}?)" if meant else shown


def check_in_form(name: str, value: Any) -> None:
    """Raise `ConfigError` if `value` is valid for training but beyond the form's bounds for `name`."""
    field = FORM_FIELDS[name]
    if field.low is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if not field.low <= value <= field.high:
        raise ConfigError(
            f"Received an invalid value for `{name}`, expected a value the form offers, in "
            f"[{field.low:g}, {field.high:g}]. Received: {name}={value!r}"
        )


def inactive_fields(values: Mapping[str, Any]) -> dict[str, str]:
    """Fields that have no effect with these `values`, each with the reason (the page greys them out)."""
    spec = SPECS.get(values.get("model"))
    inactive: dict[str, str] = {}
    if values.get("optimizer") != "momentum":
        inactive["momentum"] = "used by the `momentum` optimizer only"
    if values.get("validation") != "holdout":
        inactive["validation_size"] = "used with `holdout` validation only"
    if not values.get("patience"):
        inactive["restore_best_weights"] = "used with early stopping (patience > 0) only"
    if values.get("validation") == "none":
        inactive["keep_best_epoch"] = "the best epoch is judged by `val_loss`: needs validation"
    if spec is not None and not spec.has_hidden_layers:
        for name in ("activation", "hidden_units", "dropout"):
            inactive[name] = f"`{spec.name}` has no hidden layers"
    if values.get("model") == "numpy_logreg":
        reason = "the NumPy model trains by plain gradient descent with its own U(-1, 1) weights"
        for name in ("optimizer", "momentum", "schedule", "initializer", "augment_shift", "augment_rotation", "augment_zoom"):
            inactive[name] = reason
    return inactive


def query_for(config: TrainConfig) -> dict[str, str]:
    """Query parameters that reproduce `config` on the form: the model, plus what differs from its defaults."""
    defaults = default_values(config.model)
    return {"model": config.model} | {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in config.to_dict().items()
        if name != "model" and value != defaults[name]
    }


# The learning rates each optimizer usually trains these models with: (low, high, offered on switching).
USUAL_LEARNING_RATES = {
    "sgd": (1e-2, 0.5, 0.1),
    "momentum": (1e-3, 0.1, 0.01),
    "adam": (1e-4, 1e-2, 1e-3),
    "rmsprop": (1e-4, 1e-2, 1e-3),
}
FAR_OUTSIDE = 3.0  # a rate more than this factor beyond the usual range gets a warning


def usual_learning_rate(optimizer: str) -> float:
    """The learning rate to offer when the optimizer is switched to `optimizer`."""
    return USUAL_LEARNING_RATES[optimizer][2]


def learning_rate_warning(optimizer: str, learning_rate: float) -> str | None:
    """A warning when `learning_rate` is far outside what `optimizer` usually trains with; None if it is usual."""
    if optimizer not in USUAL_LEARNING_RATES or not learning_rate or learning_rate <= 0:
        return None
    low, high, usual = USUAL_LEARNING_RATES[optimizer]
    if learning_rate > high * FAR_OUTSIDE:
        return (f"A learning rate of {learning_rate:g} is far above what {optimizer} usually trains with "
                f"({low:g}–{high:g}): the loss will likely jump about or explode, and accuracy stay near chance. "
                f"Try {usual:g}.")
    if learning_rate < low / FAR_OUTSIDE:
        return (f"A learning rate of {learning_rate:g} is far below what {optimizer} usually trains with "
                f"({low:g}–{high:g}): training will crawl. Try {usual:g}.")
    return None


ARCHITECTURE_KNOBS = ("activation", "initializer", "hidden_units", "dropout", "pixel_scale",
                      "augment_shift", "augment_rotation", "augment_zoom")


def architecture_changes(values: Mapping[str, Any]) -> list[str]:
    """How the form's model knobs differ from the write-up's preset, each as "relu (preset sigmoid)".

    The model's description (its spec's `architecture`) is the preset's; this is what the page says
    beside it when a knob is set otherwise, so the description never claims sigmoid after relu was picked.
    Knobs that have no effect on this model (greyed out on the form) are left out.
    """
    model = values.get("model")
    if model not in SPECS:
        return []
    preset, inactive = default_values(model), inactive_fields(values)
    changes = []
    values, preset = dict(values), dict(preset)
    for both in (values, preset):  # 0 hidden units = the model's own number
        if not both.get("hidden_units"):
            both["hidden_units"] = SPECS[model].default_hidden_units
    for name in ARCHITECTURE_KNOBS:
        if name in inactive or name not in values or values[name] == preset.get(name):
            continue
        label = FORM_FIELDS[name].label.lower()
        number = isinstance(values[name], (int, float)) and not isinstance(values[name], bool)
        was = "the write-up's own" if preset[name] == "preset" else (f"{preset[name]:g}" if number else str(preset[name]))
        changes.append(f"{label} {values[name]:g} (preset {was})" if number else f"{label} {values[name]} (preset {was})")
    return changes
