"""Keras builders for the zoo's TensorFlow models, each following its write-up.

Every model takes float images of shape `(batch, 28, 28, 1)` in `[0, 1]` and outputs
class probabilities of shape `(batch, 10)`. A preset that trained on raw 0..255 pixels
gets a `Rescaling(255)` layer inside the model, so a saved model never depends on
preprocessing kept elsewhere.
"""

from __future__ import annotations

import keras
from keras import layers

from core.config.train_config import TrainConfig
from core.data.mnist import NUM_CLASSES
from core.models.fused_adam import FusedAdam
from core.models.layer_names import name_layers_in_order
from core.models.one_cycle import OneCycle
from core.models.seeding import seed_everything
from core.config.zoo import SPECS

INPUT_SHAPE = (28, 28, 1)


def initializer(config: TrainConfig, preset):
    """The kernel initializer: the write-up's (`preset`) unless the config names another."""
    named = {
        "normal": lambda: keras.initializers.RandomNormal(0.0, 1.0),
        "truncated_normal": lambda: keras.initializers.TruncatedNormal(0.0, 0.1),
    }
    if config.initializer == "preset":
        return preset() if callable(preset) else preset
    if config.initializer in named:
        return named[config.initializer]()
    return config.initializer


def input_layers(config: TrainConfig) -> list:
    """Input, optional raw-pixel rescaling, and optional training-time augmentation."""
    stack = [keras.Input(INPUT_SHAPE)]
    if config.pixel_scale == "raw":
        stack.append(layers.Rescaling(255.0, name="to_raw_pixels"))
    if config.augment_rotation:
        stack.append(layers.RandomRotation(config.augment_rotation / 360.0, fill_mode="constant", seed=config.seed))
    if config.augment_zoom:
        stack.append(layers.RandomZoom(config.augment_zoom, fill_mode="constant", seed=config.seed))
    if config.augment_shift:
        shift = config.augment_shift
        stack.append(layers.RandomTranslation(shift, shift, fill_mode="constant", seed=config.seed))
    return stack


def build_softmax(config: TrainConfig) -> list:
    init = initializer(config, lambda: keras.initializers.RandomNormal(0.0, 1.0))
    bias = "zeros" if config.initializer != "preset" else keras.initializers.RandomNormal(0.0, 1.0)
    return [layers.Flatten(), layers.Dense(NUM_CLASSES, "softmax", kernel_initializer=init, bias_initializer=bias)]


def build_mlp(config: TrainConfig) -> list:
    units = config.hidden_units or SPECS["mlp"].default_hidden_units
    normal = lambda: keras.initializers.RandomNormal(0.0, 1.0)  # noqa: E731
    bias = normal if config.initializer == "preset" else (lambda: "zeros")
    stack = [layers.Flatten()]
    for _ in range(2):
        stack.append(layers.Dense(units, config.activation, kernel_initializer=initializer(config, normal), bias_initializer=bias()))
        if config.dropout:
            stack.append(layers.Dropout(config.dropout))
    stack.append(layers.Dense(NUM_CLASSES, "softmax", kernel_initializer=initializer(config, normal), bias_initializer=bias()))
    return stack


def build_cnn(config: TrainConfig) -> list:
    units = config.hidden_units or SPECS["cnn"].default_hidden_units
    glorot = "glorot_uniform"
    dense_bias = keras.initializers.RandomNormal(0.0, 0.01)
    return [
        layers.Conv2D(32, 5, padding="same", activation="relu", use_bias=False, kernel_initializer=initializer(config, glorot)),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, 5, padding="same", activation="relu", use_bias=False, kernel_initializer=initializer(config, glorot)),
        layers.MaxPooling2D(2, 2),
        layers.Flatten(),
        layers.Dense(units, config.activation, kernel_initializer=initializer(config, glorot), bias_initializer=dense_bias),
        layers.Dropout(config.dropout),
        layers.Dense(NUM_CLASSES, "softmax", kernel_initializer=initializer(config, glorot), bias_initializer=dense_bias),
    ]


def build_cnn_deep(config: TrainConfig) -> list:
    units = config.hidden_units or SPECS["cnn_deep"].default_hidden_units
    truncated = lambda: keras.initializers.TruncatedNormal(0.0, 0.1)  # noqa: E731
    bias = keras.initializers.Constant(0.1)
    return [
        layers.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer=initializer(config, truncated), bias_initializer=bias),
        layers.MaxPooling2D(2, 2, padding="same"),
        layers.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer=initializer(config, truncated), bias_initializer=bias),
        layers.MaxPooling2D(2, 2, padding="same"),
        layers.Flatten(),
        layers.Dense(units, config.activation, kernel_initializer=initializer(config, truncated), bias_initializer=bias),
        layers.Dropout(config.dropout),
        layers.Dense(NUM_CLASSES, "softmax", kernel_initializer=initializer(config, truncated), bias_initializer=bias),
    ]


def build_lenet5(config: TrainConfig) -> list:
    units = config.hidden_units or SPECS["lenet5"].default_hidden_units
    glorot = "glorot_uniform"  # Keras's default, as the write-up's subclassed model used
    stack = [
        layers.Conv2D(6, 5, padding="same", activation="relu", kernel_initializer=initializer(config, glorot)),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 5, activation="relu", kernel_initializer=initializer(config, glorot)),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(units, config.activation, kernel_initializer=initializer(config, glorot)),
        layers.Dense(84, config.activation, kernel_initializer=initializer(config, glorot)),
    ]
    if config.dropout:
        stack.append(layers.Dropout(config.dropout))
    stack.append(layers.Dense(NUM_CLASSES, "softmax", kernel_initializer=initializer(config, glorot)))
    return stack


MNIST_MEAN = 0.1307  # of x_train / 255
MNIST_STD = 0.3081  # of x_train / 255


def build_fast(config: TrainConfig) -> list:
    """The `fast` model: 99% test accuracy in one epoch on a 2-core CPU (`bench/time_to_99.py`).

    Small valid convolutions with pooling keep the arithmetic near 2.4 MFLOP an image; inputs are
    standardized inside the model and the hidden dense layer is batch-normalized, which is what
    lets one epoch of Adam with a one-cycle schedule reach 99% (conv batch norm costs more
    than it gains on a CPU).
    """
    units = config.hidden_units or SPECS["fast"].default_hidden_units
    he = "he_uniform"
    stack = []
    if config.pixel_scale == "unit":  # raw pixels were asked for: leave them raw
        stack.append(layers.Rescaling(1.0 / MNIST_STD, offset=-MNIST_MEAN / MNIST_STD, name="standardize"))
    stack += [
        layers.Conv2D(16, 5, activation="relu", kernel_initializer=initializer(config, he)),  # (24, 24, 16)
        layers.MaxPooling2D(2),  # (12, 12, 16)
        layers.Conv2D(32, 5, activation="relu", kernel_initializer=initializer(config, he)),  # (8, 8, 32)
        layers.MaxPooling2D(2),  # (4, 4, 32)
        layers.Flatten(),
        layers.Dense(units, use_bias=False, kernel_initializer=initializer(config, he)),
        layers.BatchNormalization(momentum=0.9),  # moving statistics settle within a short run
        layers.Activation(config.activation),
    ]
    if config.dropout:
        stack.append(layers.Dropout(config.dropout))
    stack.append(layers.Dense(NUM_CLASSES, "softmax", kernel_initializer=initializer(config, he)))
    return stack


BUILDERS = {
    "softmax": build_softmax,
    "mlp": build_mlp,
    "cnn": build_cnn,
    "cnn_deep": build_cnn_deep,
    "lenet5": build_lenet5,
    "fast": build_fast,
}


def make_optimizer(config: TrainConfig, steps_per_epoch: int, cycles=None) -> keras.optimizers.Optimizer:
    """The config's optimizer, with a one-cycle learning-rate schedule when asked for (over `cycles`, optimizer
    steps `((start, end), ...)`, when given: a continued run's, `core.training.one_cycle_plan`)."""
    learning_rate = config.learning_rate
    if config.schedule == "one_cycle":
        learning_rate = OneCycle(config.learning_rate, total_steps=config.epochs * steps_per_epoch, cycles=cycles)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if config.optimizer == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=config.momentum)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    return FusedAdam(learning_rate)  # Keras's Adam, one kernel per variable (see fused_adam.py)


BATCHED_IMAGES_PER_EXECUTION = 1024
MAX_STEPS_PER_EXECUTION = 16
MIN_CALLS_PER_EPOCH = 21  # 20 calls before the last: 20 live-curve points an epoch at least (core.training.batch_points)


def default_steps_per_execution(batch_size: int, steps_per_epoch: int | None = None) -> int:
    """How many batches one call from Keras into TensorFlow trains (`compile`'s `steps_per_execution`).

    Each call costs Keras a few milliseconds of Python, which on small batches is a large share
    of a step (about 15% of the `fast` model's epoch at batch 128 on the 2-core VM). Grouping
    batches up to ~1,024 images a call amortises it, while callbacks (progress, Stop) still run
    every fraction of a second. Batches of 1,024 images or more (or full-batch, 0) run one a call.

    Args:
        batch_size: images a batch; 0 = full-batch.
        steps_per_epoch: batches an epoch, when known. A short epoch is still cut into at least
            `MIN_CALLS_PER_EPOCH` calls where it has that many batches, since the callback after
            each call is where the live curves get their points: `fast` on 6,000 images (47
            batches of 128) trains 2 batches a call, not 8 (which gave its curve 2 or 3 points),
            for ~0.1 s more on its ~1.5-s epoch.
    """
    if batch_size <= 0:
        return 1
    grouped = max(1, min(MAX_STEPS_PER_EXECUTION, BATCHED_IMAGES_PER_EXECUTION // batch_size))
    if steps_per_epoch is None:
        return grouped
    return max(1, min(grouped, steps_per_epoch // MIN_CALLS_PER_EPOCH))


def build_keras_model(config: TrainConfig, steps_per_epoch: int, steps_per_execution: int | None = None,
                      cycles=None) -> keras.Model:
    """Build and compile the zoo model `config.model` for `steps_per_epoch` batches an epoch.

    `cycles`: a continued one-cycle run's cycles (see `make_optimizer`); None = one over `config.epochs`.

    `steps_per_execution` defaults to `default_steps_per_execution(config.batch_size, steps_per_epoch)`; pass 1 for
    Keras's own default (the benchmarks' "plain Keras" baselines do).

    Seeds Keras (Python, NumPy and TensorFlow) with `config.seed` first, so weights are repeatable.
    """
    seed_everything(config.seed)  # TensorFlow's instantiated functions kept: a warm worker's next run skips ~0.4 s
    stack = input_layers(config) + BUILDERS[config.model](config)
    name_layers_in_order(stack)
    model = keras.Sequential(stack, name=config.model)
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch, cycles),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution or default_steps_per_execution(config.batch_size, steps_per_epoch),
    )
    return model
