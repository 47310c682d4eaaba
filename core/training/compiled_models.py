"""Compiled Keras models a warm worker keeps, so the next run of the same graph skips tracing.

Tracing `fit`'s train, test and predict steps costs ~2 s of Python before a model's first batch
(bench/README.md). A worker that trains run after run keeps the compiled models it made, keyed
by everything that shapes their graphs, and hands one back for the next run of that key with its
state reset to what a fresh build gives: every variable of the model (weights, batch-norm
statistics, the dropout and augmentation layers' random-seed states) copied from a fresh,
untraced build with the run's seed, and the optimizer's iterations and slots zeroed, its learning
rate set. So a reused model trains to the same metrics as a fresh one (tests/test_compiled_models.py).

`warm_up` traces a config's steps before any run asks for it (a worker does so for the presets a
visitor starts first, while it waits), so even the first run of it skips tracing.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict

from core.config.train_config import TrainConfig
from core.training.one_cycle_plan import fresh_cycles

DEFAULT_CAPACITY = 2  # compiled models kept per worker; each holds its traced graphs and weights


def graph_key(config: TrainConfig, steps_per_epoch: int, cycles=None) -> tuple:
    """What the compiled graph depends on: the config without the knobs it does not bake in.

    The seed only sets starting values (reset on reuse); early-stopping and the target accuracy
    are callbacks; a constant learning rate is a variable the step reads. A one-cycle schedule
    bakes its peak rate and its cycles (a new run's: one over its epochs; a continued run's `cycles`)
    into the graph, so those stay in the key.
    """
    ignored = {"seed": 0, "patience": 0, "restore_best_weights": True, "target_accuracy": 0.0}
    if config.schedule == "constant":
        ignored.update(learning_rate=1.0, epochs=1)
        cycles = None
    elif cycles is not None and tuple(map(tuple, cycles)) == fresh_cycles(config.epochs * steps_per_epoch):
        cycles = None  # a continuation with a new run's one cycle shares a new run's graph
    key = tuple(sorted({**dataclasses.asdict(config), **ignored}.items())) + (("steps_per_epoch", steps_per_epoch),)
    return key if cycles is None else key + (("cycles", tuple(map(tuple, cycles))),)


class CompiledModels:
    """A small LRU cache of compiled models, for one thread at a time (a worker's training).

    Args:
        capacity: models kept; the least recently used is dropped beyond it.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.capacity = capacity
        self._models: OrderedDict[tuple, object] = OrderedDict()
        self.hits = self.misses = 0
        self._pipeline: tuple | None = None  # (key, x, y, dataset, set_order): the last run's training batches

    def training_batches(self, x, y, batch_size: int, seed: int):
        """`core.data.input_pipeline.epoch_ordered_batches(x, y, batch_size, seed)`: the same batches in the same
        order, from the pipeline the previous run on the same arrays built (its seed set anew), else a new one.

        The arrays are recognised by their memory (address, shape, strides, type) and held while kept, so
        that memory is never another array's; nothing writes into them (a run's arrays are MNIST's, or
        copies taken for it).
        """
        from core.data.input_pipeline import seeded_epoch_batches

        key = (_memory_of(x), _memory_of(y), batch_size)
        if self._pipeline is None or self._pipeline[0] != key:
            self._pipeline = None  # the old pipeline's copy of its images goes before the new one's is made
            self._pipeline = (key, x, y, *seeded_epoch_batches(x, y, batch_size))
        _, _, _, dataset, set_order = self._pipeline
        set_order(seed, 1)
        return dataset, lambda k: set_order(seed, k)

    def model_for(self, config: TrainConfig, steps_per_epoch: int, cycles=None):
        """A compiled model for `config`, in the state a fresh `build_keras_model` would give (`cycles`: a
        continued one-cycle run's, see `core.training.one_cycle_plan`)."""
        from core.models.keras_models import build_keras_model  # Keras loads with the first model, not on import

        fresh = build_keras_model(config, steps_per_epoch, cycles=cycles)  # seeds Keras, builds weights; nothing traced yet
        key = graph_key(config, steps_per_epoch, cycles)
        kept = self._models.get(key)
        if kept is None or not kept.optimizer.built:
            self.misses += 1
            self._models[key] = fresh
            self._models.move_to_end(key)
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return fresh
        self.hits += 1
        self._models.move_to_end(key)
        for kept_variable, fresh_variable in zip(kept.variables, fresh.variables, strict=True):
            kept_variable.assign(fresh_variable)
        reset_optimizer(kept.optimizer, config.learning_rate)
        kept.stop_training = False
        return kept


def _memory_of(array) -> tuple:
    interface = array.__array_interface__
    return interface["data"][0], interface["shape"], interface["strides"], interface["typestr"]


WARM_UP_IMAGES = 256  # enough for a batch or two of each step; a warm-up takes ~1 s


def warm_up(models: CompiledModels, config: TrainConfig, splits) -> None:
    """Trace the train, test and predict steps `config`'s runs on `splits` will use, on a few images.

    The model keeps them under the same key a real run looks up (its steps per epoch come from all
    of `splits`); that run then resets every variable, so the warm-up leaves no trace in its metrics.
    """
    from core.data.input_pipeline import evaluation_batches, prediction_batches, training_batches

    batch_size = config.batch_size or splits.train_count
    model = models.model_for(config, math.ceil(splits.train_count / batch_size))
    few = slice(0, max(WARM_UP_IMAGES, 2 * batch_size))
    validation = None
    if splits.val_images is not None:
        validation = evaluation_batches(splits.val_images[:WARM_UP_IMAGES], splits.y_val[:WARM_UP_IMAGES])
    model.fit(training_batches(splits.train_images[few], splits.y_train[few], batch_size, config.seed),
              epochs=1, validation_data=validation, verbose=0, shuffle=False)
    model.predict(prediction_batches(splits.test_images[:WARM_UP_IMAGES]), verbose=0)


def reset_optimizer(optimizer, learning_rate: float) -> None:
    """Zero an optimizer's step count and slots, as when it is new, and set its rate."""
    import keras

    for variable in optimizer.variables:
        variable.assign(keras.ops.zeros_like(variable))
    schedule = optimizer._learning_rate  # Keras keeps a schedule object here, or the rate's variable
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        schedule.scale.assign(1.0)  # a live change of the last run rescaled it (see OneCycle)
    else:
        optimizer.learning_rate = learning_rate
