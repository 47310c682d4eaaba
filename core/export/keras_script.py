'''The standalone script of a Keras zoo model: the run's data order, model, optimizer and callbacks.

Each part mirrors the lab's own: the batches of `core.data.input_pipeline.epoch_ordered_batches`
(epoch k's order a stateless shuffle seeded by `(seed, k)`), the model of `core.models.keras_models`
(`layer_code.py`), `make_optimizer` and `OneCycle`, and the callbacks `core.training.trainer` adds
for early stopping, a target accuracy and keeping the best epoch. Only what the run's config uses
is written: a script for `fast` has no early stopping, one for `mlp` no schedule.
'''

from __future__ import annotations

import math

from core.config.train_config import TrainConfig
from core.export.data_code import LIMIT, TRAIN_IMAGES, data_constants, has_subset, load_mnist_code, split_code
from core.export.layer_code import build_model_code, module_constants
from core.export.script_header import RunFacts, header

IMPORTS = '''import argparse
import math
import os
import sys

# Set before TensorFlow is imported. oneDNN: TensorFlow turns it on by default only on CPUs with AVX-512
# VNNI or AMX, yet it trains these CNNs about twice as fast on others too; the lab turns it on as well.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ notices off the console

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402
'''

BATCHES = '''def gathered(index_batches, images, labels):
    """Batches of indices → batches of (float32 images (b, 28, 28, 1) in [0, 1], labels (b,)).

    The images stay uint8 in memory and are scaled a batch at a time. Keras would build a
    pipeline like this itself from NumPy arrays, but with tf.data's autotuner on, whose thread
    can stall the end of an epoch for seconds on a small CPU; here there is nothing to tune.
    """
    images, labels = tf.constant(images), tf.constant(labels)

    def gather(indices):
        batch = tf.cast(tf.gather(images, indices), tf.float32) / 255.0
        return tf.expand_dims(batch, -1), tf.gather(labels, indices)

    options = tf.data.Options()
    options.autotune.enabled = False
    return index_batches.map(gather).prefetch(2).with_options(options)


def training_batches(images, labels, batch_size):
    """The training batches, in a new order each epoch, ordered as the lab orders them.

    Epoch k's order is a shuffle seeded by (SEED, k) alone, so every run of this script (and the
    lab's run) reads the same batches. `model.fit(x, y, batch_size=..., shuffle=True)` trains
    just as well, in another order.

    Returns:
        (dataset, callback): pass both to `fit`; the callback tells the dataset which epoch begins.
    """
    count = len(images)
    epoch = tf.Variable(1, dtype=tf.int64, trainable=False)

    def one_epoch(_):
        seed = tf.stack([tf.constant(SEED, tf.int64), epoch.value()])
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=seed)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    index_batches = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).flat_map(one_epoch)
    batches_per_epoch = math.ceil(count / batch_size)
    index_batches = index_batches.apply(tf.data.experimental.assert_cardinality(batches_per_epoch))
    # Keras counts epochs from 0
    set_epoch = keras.callbacks.LambdaCallback(on_epoch_begin=lambda k, logs: epoch.assign(k + 1))
    return gathered(index_batches, images, labels), set_epoch


def in_order_batches(images, labels):
    """Validation or test batches, in order."""
    index_batches = tf.data.Dataset.range(len(images)).batch(EVALUATION_BATCH_SIZE)
    return gathered(index_batches, images, labels)
'''

ONE_CYCLE = '''class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """The one-cycle learning rate (Smith, 2018): a linear warm-up from max/25 to max over the
    first quarter of the steps, then a cosine decay to almost zero."""

    def __init__(self, max_learning_rate, total_steps, warmup_fraction=0.25):
        self.max_learning_rate = float(max_learning_rate)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_fraction = float(warmup_fraction)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup_steps = max(self.total_steps * self.warmup_fraction, 1.0)
        start = self.max_learning_rate / 25.0
        warming = start + (self.max_learning_rate - start) * step / warmup_steps
        progress = keras.ops.clip((step - warmup_steps) / max(self.total_steps - warmup_steps, 1.0), 0.0, 1.0)
        annealing = self.max_learning_rate * 0.5 * (1.0 + keras.ops.cos(math.pi * progress))
        return keras.ops.where(step < warmup_steps, warming, annealing + 1e-6)

    def get_config(self):
        return {"max_learning_rate": self.max_learning_rate, "total_steps": self.total_steps,
                "warmup_fraction": self.warmup_fraction}
'''

STOP_AT_TRAIN_ACCURACY = '''class StopAtTrainAccuracy(keras.callbacks.Callback):
    """Stop after the first epoch whose training accuracy passes `target` (the write-up's rule)."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def on_epoch_end(self, epoch, logs=None):
        if logs["accuracy"] > self.target:
            print(f"training accuracy passed {self.target}: stopping")
            self.model.stop_training = True
'''

KEEP_BEST_EPOCH = '''class KeepBestEpoch(keras.callbacks.Callback):
    """When training ends, put back the weights of the epoch with the lowest val_loss: the model
    the lab keeps of a run (its best epoch's, not necessarily its last)."""

    def on_train_begin(self, logs=None):
        self.best_val_loss, self.best_epoch, self.best_weights = math.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        if math.isfinite(logs["val_loss"]) and logs["val_loss"] < self.best_val_loss:
            self.best_val_loss, self.best_epoch = logs["val_loss"], epoch + 1
            self.best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            print(f"kept the model of epoch {self.best_epoch}, whose val_loss was the lowest: {self.best_val_loss:.4f}")
'''

OPTIMIZERS = {
    "sgd": "keras.optimizers.SGD(learning_rate)",
    "momentum": "keras.optimizers.SGD(learning_rate, momentum=MOMENTUM)",
    "rmsprop": "keras.optimizers.RMSprop(learning_rate)",
    "adam": "keras.optimizers.Adam(learning_rate)  # the lab runs the same update as one fused TensorFlow kernel",
}
BATCHED_IMAGES_PER_EXECUTION = 1024  # core.models.keras_models.default_steps_per_execution's rule
MAX_STEPS_PER_EXECUTION = 16
MIN_CALLS_PER_EPOCH = 21
EVALUATION_BATCH_SIZE = 250  # core.data.input_pipeline.EVALUATION_BATCH_SIZE


def train_count(config: TrainConfig) -> int:
    """The images the run trained on."""
    if has_subset(config):
        return config.train_size
    return TRAIN_IMAGES - (config.validation_size if config.validation == "holdout" else 0)


def steps_per_execution(config: TrainConfig) -> int:
    """The batches one call into TensorFlow trains, as the lab chose them for the run (a speed
    setting only: the same steps run either way)."""
    if config.batch_size <= 0:
        return 1
    steps_per_epoch = math.ceil(train_count(config) / config.batch_size)
    grouped = max(1, min(MAX_STEPS_PER_EXECUTION, BATCHED_IMAGES_PER_EXECUTION // config.batch_size))
    return max(1, min(grouped, steps_per_epoch // MIN_CALLS_PER_EPOCH))


def settings_code(config: TrainConfig) -> str:
    rate = "  # the peak of the one-cycle schedule" if config.schedule == "one_cycle" else ""
    batch = "  # 0: full batch, every training image in one step" if config.batch_size == 0 else "  # images a step"
    lines = [
        "# The run's settings",
        f"SEED = {config.seed}",
        f"EPOCHS = {config.epochs}",
        f"BATCH_SIZE = {config.batch_size}{batch}",
        f"LEARNING_RATE = {config.learning_rate!r}{rate}",
    ]
    if config.optimizer == "momentum":
        lines.append(f"MOMENTUM = {config.momentum!r}")
    if config.patience:
        lines.append(f"PATIENCE = {config.patience}  # epochs without a lower val_loss before stopping")
    if config.target_accuracy:
        lines.append(f"TARGET_ACCURACY = {config.target_accuracy!r}  # stop once training accuracy passes it")
    lines += data_constants(config)
    lines += [
        f"STEPS_PER_EXECUTION = {steps_per_execution(config)}  # batches per call into TensorFlow: the same steps, less Python overhead",
        f"EVALUATION_BATCH_SIZE = {EVALUATION_BATCH_SIZE}  # any size gives the same numbers",
    ]
    lines += module_constants(config)
    return "\n".join(lines) + "\n"


def optimizer_code(config: TrainConfig) -> str:
    if config.schedule == "one_cycle":
        head = ("def make_optimizer(total_steps):\n"
                f'    """{config.optimizer.capitalize()} with the one-cycle schedule over `total_steps` steps, peaking at LEARNING_RATE."""\n'
                "    learning_rate = OneCycle(LEARNING_RATE, total_steps)\n")
    else:
        head = ("def make_optimizer():\n"
                f'    """{config.optimizer.capitalize()} at a constant LEARNING_RATE."""\n'
                "    learning_rate = LEARNING_RATE\n")
    return head + f"    return {OPTIMIZERS[config.optimizer]}\n"


def keeps_best_epoch(config: TrainConfig) -> bool:
    return config.keep_best_epoch and config.validation != "none"


def callbacks_code(config: TrainConfig) -> list[str]:
    """The `fit` callbacks after the epoch order's, in the lab's order."""
    callbacks = ["keras.callbacks.TerminateOnNaN()"]  # the lab ends a run whose loss is no longer a number too
    if config.target_accuracy:
        callbacks.append("StopAtTrainAccuracy(TARGET_ACCURACY)")
    if config.patience:
        callbacks.append(f'keras.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE, '
                         f"restore_best_weights={config.restore_best_weights})")
    if keeps_best_epoch(config):
        callbacks.append("KeepBestEpoch()")
    return callbacks


def main_code(config: TrainConfig) -> str:
    batch_size = ("    batch_size = len(x_train)  # full batch\n" if config.batch_size == 0
                  else "    batch_size = min(BATCH_SIZE, len(x_train))\n")
    optimizer = "make_optimizer(args.epochs * steps_per_epoch)" if config.schedule == "one_cycle" else "make_optimizer()"
    validation = "" if config.validation == "none" else "        validation_data=in_order_batches(x_val, y_val),\n"
    callbacks = "".join(f"            {callback},\n" for callback in ["epoch_order", *callbacks_code(config)])
    return f'''def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs to train (default: the run's)")
    parser.add_argument("--limit", type=int, default=0, metavar="N",
                        help="use only the first N images of each split: a quick check that the script runs, "
                             "not the run's result (default 0: all of them)")
    args = parser.parse_args()
    if args.epochs < 1 or args.limit < 0 or args.limit == 1:
        parser.error(f"pass --epochs 1 or more and --limit 0 (all) or 2 or more; got {{args.epochs}} and {{args.limit}}")

    x_train, y_train, x_val, y_val, x_test, y_test = first(args.limit, *split(*load_mnist()))
{batch_size}    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    validating = "no validation" if x_val is None else f"{{len(x_val)}} validation images"
    print(f"{{len(x_train)}} training images, {{validating}}, {{len(x_test)}} test images")

    keras.utils.set_random_seed(SEED)  # Python's, NumPy's and TensorFlow's generators: the run's weights
    model = build_model()
    model.compile(
        optimizer={optimizer},
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=min(STEPS_PER_EXECUTION, steps_per_epoch),
    )
    model.summary()
    print(f"parameters: {{model.count_params()}}")

    train_batches, epoch_order = training_batches(x_train, y_train, batch_size)
    model.fit(
        train_batches,
        epochs=args.epochs,
        shuffle=False,  # training_batches orders each epoch itself
{validation}        callbacks=[
{callbacks}        ],
        verbose=1 if sys.stdout.isatty() else 2,  # a progress bar in a terminal, a line an epoch in a log
    )
    test_loss, test_accuracy = model.evaluate(in_order_batches(x_test, y_test), verbose=0)
    print(f"test_loss: {{test_loss:.4f}} - test_accuracy: {{test_accuracy:.4f}}")


if __name__ == "__main__":
    main()
'''


def how_it_trains(config: TrainConfig) -> str:
    rounding = (" (the lab's Adam is the same update done by one fused TensorFlow kernel, which rounds differently "
                "in the last bits)" if config.optimizer == "adam" else "")
    return ("It builds the model with the same layers and initial weights (the same seed), splits MNIST the same "
            "way and reads the same batches in the same order, with the same optimizer, schedule and stopping "
            "rules. With the same TensorFlow on the same machine its numbers follow the run's closely"
            f"{rounding}; on other hardware the last digits differ and the differences grow a little each epoch.")


def keras_script(config: TrainConfig, run: RunFacts | None = None) -> str:
    """The whole standalone script that trains the Keras zoo model of `config` as its run did."""
    parts = [
        header(config, run, how_it_trains(config)),
        IMPORTS,
        settings_code(config),
        load_mnist_code(keras_imported=True),
        split_code(config),
        LIMIT,
        BATCHES,
        build_model_code(config),
    ]
    if config.schedule == "one_cycle":
        parts.append(ONE_CYCLE)
    parts.append(optimizer_code(config))
    if config.target_accuracy:
        parts.append(STOP_AT_TRAIN_ACCURACY)
    if keeps_best_epoch(config):
        parts.append(KEEP_BEST_EPOCH)
    parts.append(main_code(config))
    return parts[0] + "\n" + "\n\n\n".join(part.rstrip("\n") for part in parts[1:]) + "\n"
