"""The Keras callback that forwards `fit`'s progress and epoch logs to the streaming trainer."""

from __future__ import annotations

import math
import queue
import threading
import time

import keras

from core.events import DIVERGED, STOPPED, EpochEnd, Progress


class StreamingCallback(keras.callbacks.Callback):
    """Puts `Progress` and `EpochEnd` events on a queue; aborts `fit` on stop or divergence.

    Args:
        events: where events go (read by the trainer's consuming thread).
        stop_requested: set from any thread to end the run after the current batch.
        steps_per_epoch, batch_size, num_samples: the run's shape, for fractions and rates.
        progress_interval: minimum seconds between `Progress` events.
        target_accuracy: stop after an epoch whose train accuracy exceeds this; 0 = never.
        abort: the exception type to raise to leave `fit` at once, with `(status, reason)`.
    """

    def __init__(self, events: queue.Queue, stop_requested: threading.Event, steps_per_epoch: int,
                 batch_size: int, num_samples: int, progress_interval: float, target_accuracy: float, abort):
        super().__init__()
        self.events = events
        self.stop_requested = stop_requested
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
        self._epoch_started = self._last_tick = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.stop_requested.is_set():
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
        learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
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


def _maybe_float(value):
    return None if value is None else float(value)
