"""The Keras callback that forwards `fit`'s progress and epoch logs to the streaming trainer."""

from __future__ import annotations

import math
import queue
import time

import keras

from core.training.batch_points import point_due
from core.training.control import TrainingControl
from core.training.events import DIVERGED, STOPPED, EpochEnd, LearningRateChanged, Progress


class StreamingCallback(keras.callbacks.Callback):
    """Puts `Progress`, `EpochEnd` and `LearningRateChanged` events on a queue; obeys the run's control;
    aborts `fit` on stop or divergence.

    Keras logs the epoch's running means after each batch; a `Progress` point holds the means
    over the batches since the previous point, taken from two running means (sample-weighted,
    as Keras's own loss tracker and accuracy are). Time spent paused is left out of the epoch's
    `seconds` (so its images per second and the ETA stay true).

    Args:
        events: where events go (read by the trainer's consuming thread).
        control: the run's commands (stop, pause, step, learning rate), set from any thread.
        steps_per_epoch, batch_size, num_samples: the run's shape, for fractions and rates.
        progress_interval: seconds after which a `Progress` event is due; one is also due at each
            of the epoch's `POINTS_PER_EPOCH` marks (`core.training.batch_points.point_due`).
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
        self._reported = (0, 0.0, 0.0)  # (samples, loss sum, accuracy sum) of the epoch at its last point
        self._reported_batches = 0  # the epoch's batches at its last point

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_started = time.perf_counter()
        self._last_tick = -math.inf  # the epoch's first batch reports at once: the bar moves as soon as training does
        self._reported = (0, 0.0, 0.0)
        self._reported_batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        held_from = time.perf_counter()
        self.control.before_batch()  # holds here while paused
        held = time.perf_counter() - held_from
        if held > 0.05:  # a pause, not the lock: its time is no training time
            self._epoch_started += held
        if self.control.stop_requested:
            raise self.abort(STOPPED, self.control.stop_reason)
        learning_rate = self.control.take_learning_rate()
        if learning_rate is not None:
            previous = current_learning_rate(self.model.optimizer)
            set_learning_rate(self.model.optimizer, learning_rate)
            self.events.put(LearningRateChanged(
                self._epoch + 1, batch / self.steps_per_epoch, self._epoch * self.steps_per_epoch + batch,
                current_learning_rate(self.model.optimizer), previous,
            ))

    def on_train_batch_end(self, batch, logs=None):
        if self.control.stop_requested:
            raise self.abort(STOPPED, self.control.stop_reason)
        loss = logs.get("loss", 0.0)
        if not math.isfinite(loss):
            raise self.abort(
                DIVERGED,
                f"the loss became {loss} in epoch {self._epoch + 1}, batch {batch + 1}; lower the learning rate",
            )
        now = time.perf_counter()
        if point_due(batch + 1, self._reported_batches, self.steps_per_epoch, now - self._last_tick,
                     self.progress_interval):
            self._last_tick = now
            self.events.put(self._point(batch, float(loss), float(logs.get("accuracy", 0.0)), now))

    def _point(self, batch: int, running_loss: float, running_accuracy: float, now: float) -> Progress:
        """The `Progress` after batch `batch` (0-based) of the epoch, from Keras's running means."""
        samples = min((batch + 1) * self.batch_size, self.num_samples)
        loss_sum, accuracy_sum = samples * running_loss, samples * running_accuracy
        before, loss_before, accuracy_before = self._reported
        self._reported = (samples, loss_sum, accuracy_sum)
        self._reported_batches = batch + 1
        count = max(samples - before, 1)
        return Progress(
            self._epoch + 1, (batch + 1) / self.steps_per_epoch,
            (loss_sum - loss_before) / count, min(1.0, max(0.0, (accuracy_sum - accuracy_before) / count)),
            now - self._epoch_started, samples=samples - before,
            step=self._epoch * self.steps_per_epoch + batch + 1,
            learning_rate=current_learning_rate(self.model.optimizer),
        )

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
