"""The code of a zoo model's layers, written as `core.models.keras_models` builds them.

Each builder here mirrors the one of the same name there, line for line in the order the layers
and their initializers are made: Keras 3 gives an unseeded initializer (and a `Dropout`) its seed
from Python's generator when it is *made*, so the same order after the same `set_random_seed`
gives the same initial weights (`tests/test_export.py` builds both and compares them).
Layers that do nothing in this config (a `Dropout(0.0)`) are left out: they hold no weights and
draw no seed.
"""

from __future__ import annotations

import textwrap

from core.config.train_config import TrainConfig
from core.config.zoo import SPECS

RANDOM_NORMAL = "normal()"  # N(0, 1), as write-ups 001 and 003 (`INITIALIZER_FUNCTIONS`)
TRUNCATED_NORMAL = "truncated_normal()"  # as write-up 002
INITIALIZER_FUNCTIONS = {
    RANDOM_NORMAL: '''def normal():
    """N(0, 1) initial values. A new initializer for each use: each layer then gets its own seed."""
    return keras.initializers.RandomNormal(0.0, 1.0)
''',
    TRUNCATED_NORMAL: '''def truncated_normal():
    """N(0, 0.1) initial values, redrawn beyond two standard deviations. A new initializer for each
    use: each layer then gets its own seed."""
    return keras.initializers.TruncatedNormal(0.0, 0.1)
''',
}
LINE_WIDTH = 110  # a layer's line longer than this gets its comment on the line above
NAMED_INITIALIZERS = {"normal": RANDOM_NORMAL, "truncated_normal": TRUNCATED_NORMAL}
GLOROT_UNIFORM = '"glorot_uniform"'
HE_UNIFORM = '"he_uniform"'
MNIST_MEAN = 0.1307  # of x_train / 255: core.models.keras_models.MNIST_MEAN
MNIST_STD = 0.3081


def kernel_initializer(config: TrainConfig, preset: str) -> str:
    """The code of a kernel initializer: `preset` (code) unless the config names another."""
    if config.initializer == "preset":
        return preset
    return NAMED_INITIALIZERS.get(config.initializer, f'"{config.initializer}"')


def kernel_argument(config: TrainConfig, preset: str) -> str:
    """`, kernel_initializer=...`, or nothing for Keras's default (Glorot uniform, made where it is made anyway)."""
    code = kernel_initializer(config, preset)
    return "" if code == GLOROT_UNIFORM else f", kernel_initializer={code}"


def _dropout(config: TrainConfig) -> list[str]:
    return [f"layers.Dropout({config.dropout!r}),"] if config.dropout else []


def input_layer_lines(config: TrainConfig) -> list[str]:
    """The input, raw-pixel rescaling and the augmentation layers (active in training only)."""
    lines = ["keras.Input((28, 28, 1)),  # images (batch, 28, 28, 1), values in [0, 1]"]
    if config.pixel_scale == "raw":
        lines.append("layers.Rescaling(255.0),  # back to raw 0..255 pixels, as the write-up trained on")
    if config.augment_rotation:
        lines.append(f'layers.RandomRotation({config.augment_rotation!r} / 360.0, fill_mode="constant", seed=SEED),'
                     f"  # up to ±{config.augment_rotation:g}°")
    if config.augment_zoom:
        lines.append(f'layers.RandomZoom({config.augment_zoom!r}, fill_mode="constant", seed=SEED),'
                     f"  # in or out by up to {config.augment_zoom:.0%}")
    if config.augment_shift:
        shift = config.augment_shift
        lines.append(f'layers.RandomTranslation({shift!r}, {shift!r}, fill_mode="constant", seed=SEED),'
                     f"  # up to {shift:.0%} of the image each way")
    return lines


def softmax_lines(config: TrainConfig) -> list[str]:
    bias = RANDOM_NORMAL if config.initializer == "preset" else '"zeros"'
    return [
        "layers.Flatten(),  # (batch, 784)",
        f'layers.Dense(10, activation="softmax", kernel_initializer={kernel_initializer(config, RANDOM_NORMAL)}, '
        f"bias_initializer={bias}),",
    ]


def mlp_lines(config: TrainConfig) -> list[str]:
    units = config.hidden_units or SPECS["mlp"].default_hidden_units
    bias = RANDOM_NORMAL if config.initializer == "preset" else '"zeros"'
    kernel = kernel_initializer(config, RANDOM_NORMAL)
    lines = ["layers.Flatten(),  # (batch, 784)"]
    for _ in range(2):
        lines.append(f'layers.Dense({units}, activation="{config.activation}", kernel_initializer={kernel}, '
                     f"bias_initializer={bias}),")
        lines += _dropout(config)
    lines.append(f'layers.Dense(10, activation="softmax", kernel_initializer={kernel}, bias_initializer={bias}),')
    return lines


def cnn_lines(config: TrainConfig) -> list[str]:
    """Uses `dense_bias`, one initializer both dense layers share (see `model_preamble`)."""
    units = config.hidden_units or SPECS["cnn"].default_hidden_units
    kernel = kernel_argument(config, GLOROT_UNIFORM)
    without = "  # no activation, as in the post's code" if config.activation == "linear" else ""
    return [
        f'layers.Conv2D(32, 5, padding="same", activation="relu", use_bias=False{kernel}),  # (batch, 28, 28, 32)',
        "layers.MaxPooling2D(2, 2),  # (batch, 14, 14, 32)",
        f'layers.Conv2D(64, 5, padding="same", activation="relu", use_bias=False{kernel}),  # (batch, 14, 14, 64)',
        "layers.MaxPooling2D(2, 2),  # (batch, 7, 7, 64)",
        "layers.Flatten(),  # (batch, 3136)",
        f'layers.Dense({units}, activation="{config.activation}"{kernel}, bias_initializer=dense_bias),{without}',
        *_dropout(config),
        f'layers.Dense(10, activation="softmax"{kernel}, bias_initializer=dense_bias),',
    ]


def cnn_deep_lines(config: TrainConfig) -> list[str]:
    units = config.hidden_units or SPECS["cnn_deep"].default_hidden_units
    kernel = kernel_initializer(config, TRUNCATED_NORMAL)
    bias = "bias"  # see `model_preamble`
    return [
        f'layers.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer={kernel}, bias_initializer={bias}),',
        'layers.MaxPooling2D(2, 2, padding="same"),  # (batch, 14, 14, 32)',
        f'layers.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer={kernel}, bias_initializer={bias}),',
        'layers.MaxPooling2D(2, 2, padding="same"),  # (batch, 7, 7, 64)',
        "layers.Flatten(),  # (batch, 3136)",
        f'layers.Dense({units}, activation="{config.activation}", kernel_initializer={kernel}, bias_initializer={bias}),',
        *_dropout(config),
        f'layers.Dense(10, activation="softmax", kernel_initializer={kernel}, bias_initializer={bias}),',
    ]


def lenet5_lines(config: TrainConfig) -> list[str]:
    units = config.hidden_units or SPECS["lenet5"].default_hidden_units
    kernel = kernel_argument(config, GLOROT_UNIFORM)  # Keras's default, as the write-up's subclassed model used
    return [
        f'layers.Conv2D(6, 5, padding="same", activation="relu"{kernel}),  # (batch, 28, 28, 6)',
        "layers.MaxPooling2D(2),  # (batch, 14, 14, 6)",
        f'layers.Conv2D(16, 5, activation="relu"{kernel}),  # (batch, 10, 10, 16)',
        "layers.MaxPooling2D(2),  # (batch, 5, 5, 16)",
        "layers.Flatten(),  # (batch, 400)",
        f'layers.Dense({units}, activation="{config.activation}"{kernel}),',
        f'layers.Dense(84, activation="{config.activation}"{kernel}),',
        *_dropout(config),
        f'layers.Dense(10, activation="softmax"{kernel}),',
    ]


def fast_lines(config: TrainConfig) -> list[str]:
    units = config.hidden_units or SPECS["fast"].default_hidden_units
    kernel = kernel_initializer(config, HE_UNIFORM)
    lines = []
    if config.pixel_scale == "unit":  # the lab leaves raw pixels raw when they were asked for
        lines.append("layers.Rescaling(1.0 / MNIST_STD, offset=-MNIST_MEAN / MNIST_STD),  # standardized pixels")
    return lines + [
        f'layers.Conv2D(16, 5, activation="relu", kernel_initializer={kernel}),  # (batch, 24, 24, 16)',
        "layers.MaxPooling2D(2),  # (batch, 12, 12, 16)",
        f'layers.Conv2D(32, 5, activation="relu", kernel_initializer={kernel}),  # (batch, 8, 8, 32)',
        "layers.MaxPooling2D(2),  # (batch, 4, 4, 32)",
        "layers.Flatten(),  # (batch, 512)",
        f"layers.Dense({units}, use_bias=False, kernel_initializer={kernel}),  # batch norm's shift is its bias",
        "layers.BatchNormalization(momentum=0.9),  # moving statistics settle within a short run",
        f'layers.Activation("{config.activation}"),',
        *_dropout(config),
        f'layers.Dense(10, activation="softmax", kernel_initializer={kernel}),',
    ]


LAYER_LINES = {
    "softmax": softmax_lines,
    "mlp": mlp_lines,
    "cnn": cnn_lines,
    "cnn_deep": cnn_deep_lines,
    "lenet5": lenet5_lines,
    "fast": fast_lines,
}


def model_preamble(config: TrainConfig) -> list[str]:
    """Lines `build_model` needs before its layers: shared initializers and the constants they use."""
    if config.model == "cnn":
        return ["# one initializer, so one seed, for both dense layers' biases, as in the post's code",
                "dense_bias = keras.initializers.RandomNormal(0.0, 0.01)"]
    if config.model == "cnn_deep":
        return ["bias = keras.initializers.Constant(0.1)  # every bias starts at 0.1, as in the tutorial"]
    return []


def module_constants(config: TrainConfig) -> list[str]:
    """Module-level constants the layers use."""
    if config.model == "fast" and config.pixel_scale == "unit":
        return [f"MNIST_MEAN = {MNIST_MEAN!r}  # of x_train / 255", f"MNIST_STD = {MNIST_STD!r}  # of x_train / 255"]
    return []


def build_model_code(config: TrainConfig) -> str:
    """The script's `build_model()`: the zoo model `config.model` as a `keras.Sequential`.

    Raises:
        KeyError: for a model without Keras layers (`numpy_logreg`).
    """
    layer_lines = input_layer_lines(config) + LAYER_LINES[config.model](config)
    spec = SPECS[config.model]
    summary = textwrap.wrap(f"{spec.title}: {spec.architecture}.", 96, break_on_hyphens=False)
    body = [f'    """{summary[0]}'] + [f"    {line}" for line in summary[1:]]
    body[-1] += '"""'
    body += [f"    {line}" for line in model_preamble(config)]
    body.append("    return keras.Sequential([")
    for line in layer_lines:
        code, _, comment = line.partition("  # ")
        if comment and len(line) + 8 > LINE_WIDTH:
            body += [f"        # {comment}", f"        {code}"]
        else:
            body.append(f"        {line}")
    body.append(f'    ], name="{config.model}")')
    build = "def build_model():\n" + "\n".join(body) + "\n"
    helpers = [code for call, code in INITIALIZER_FUNCTIONS.items() if call in build]
    return "\n\n".join(helpers + [build])
