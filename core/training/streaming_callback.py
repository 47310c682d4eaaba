"""The Keras callback that forwards `fit`'s progress and epoch logs to the streaming trainer."""

from __future__ import annotations

import math
import queue
import time

import keras

from core.training.control import TrainingControl
from core.training.events import DIVERGED, STOPPED, EpochEnd, Progress


class StreamingCallback(keras.callbacks.Callback):
    """Puts `Progress` and `EpochEnd` events on a queue; obeys the run's control; aborts `fit` on stop or divergence.

    Args:
        events: where events go (read by the trainer's consuming thread).
        control: the run's commands (stop, pause, step, learning rate), set from any thread.
        steps_per_epoch, batch_size, num_samples: the run's shape, for fractions and rates.
        progress_interval: minimum seconds between `Progress` events.
        target_accuracy: stop after an epoch whose train accuracy exceeds this; 0 = never.
        abort: the exception type to raise to leave `fit` at once, with `(status, reason)`.
    """

    def __init__(self, events: queue.Queue, control: TrainingControl, steps_per_epoch: int,
                 batch_size: int, num_samples: int, progress_interval: float, target_accuracy: float, abort):
        super().__init__()
        self.events = events
        self.control = control
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.num_samples = num_samples
        self.progress_interval = progress_interval
        self.target_accuracy = target_accuracy
        self.abort = abort
        self.target_reached = False
        self._epoch = 0  # 0-based, as Keras counts
        self._epoch_started = self._last_tick = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_started = time.perf_counter()
        self._last_tick = -math.inf  # the epoch's first batch reports at once: the bar moves as soon as training does

    def on_train_batch_begin(self, batch, logs=None):
        self.control.before_batch()  # holds here while paused
        if self.control.stop_requested:
            raise self.abort(STOPPED, "stopped by request")
        learning_rate = self.control.take_learning_rate()
        if learning_rate is not None:
            set_learning_rate(self.model.optimizer, learning_rate)

    def on_train_batch_end(self, batch, logs=None):
        if self.control.stop_requested:
            raise self.abort(STOPPED, "stopped by request")
        loss = logs.get("loss", 0.0)
        if not math.isfinite(loss):
            raise self.abort(
                DIVERGED,
                f"the loss became {loss} in epoch {self._epoch + 1}, batch {batch + 1}; lower the learning rate",
            )
        now = time.perf_counter()
        if now - self._last_tick >= self.progress_interval and batch + 1 < self.steps_per_epoch:
            self._last_tick = now
            self.events.put(Progress(self._epoch + 1, (batch + 1) / self.steps_per_epoch, loss,
                                     logs.get("accuracy", 0.0), now - self._epoch_started))

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._epoch_started
        learning_rate = current_learning_rate(self.model.optimizer)
        self.events.put(EpochEnd(
            epoch=epoch + 1,
            loss=float(logs["loss"]),
            accuracy=float(logs["accuracy"]),
            val_loss=_maybe_float(logs.get("val_loss")),
            val_accuracy=_maybe_float(logs.get("val_accuracy")),
            learning_rate=learning_rate,
            seconds=seconds,
            samples_per_second=self.num_samples / max(seconds, 1e-9),
        ))
        if not math.isfinite(float(logs["loss"])):
            raise self.abort(DIVERGED, f"the loss became {logs['loss']} at epoch {epoch + 1}; lower the learning rate")
        if self.target_accuracy and float(logs["accuracy"]) > self.target_accuracy:
            self.target_reached = True
            self.model.stop_training = True


def current_learning_rate(optimizer) -> float:
    """The rate the optimizer's next step uses (a schedule's value at the current step)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def set_learning_rate(optimizer, learning_rate: float) -> None:
    """Train with `learning_rate` from the next step on.

    A constant rate is a variable the compiled step reads, so it is assigned. A one-cycle
    schedule is rescaled instead: its curve goes on from `learning_rate`, in the same shape.
    """
    schedule = optimizer._learning_rate  # Keras keeps the schedule object here; `learning_rate` evaluates it
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        schedule.rescale_to(learning_rate, optimizer.iterations)
    else:
        optimizer.learning_rate = learning_rate


def _maybe_float(value):
    return None if value is None else float(value)
