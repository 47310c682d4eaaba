"""The streaming trainer: iterate it to train, and it yields progress and per-epoch metrics.

Keras models train inside Keras's own `model.fit`, run on a worker thread, with one callback
that forwards what Keras logs; so the numbers streamed are exactly Keras's `History`, and the
cost over plain `fit` is one queue put per epoch and per progress tick (`bench/trainer_overhead.py`).
`fit` reads batches from `core.data.input_pipeline` (tf.data without the autotuner, which stalled
epoch ends for seconds here) and trains several small batches a call (`steps_per_execution`).
The NumPy model trains in the calling thread through the same events.

Determinism: the same config (seed included) on the same machine, TensorFlow build and thread
count gives the same metrics. Across machines, or with a different number of CPU threads,
floating-point reduction order (oneDNN and Eigen pick kernels per CPU) can change the last digits,
which then grow over epochs.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from core.config.train_config import ConfigError, TrainConfig
from core.training.batch_points import point_due
from core.training.compiled_models import CompiledModels
from core.training.control import TrainingControl
from core.training.one_cycle_plan import continued_cycles, fresh_cycles
from core.training.patience import PatienceCount, continued_early_stopping
from core.training.training_start import TrainingStart
from core.training.events import (
    COMPLETED, DIVERGED, EARLY_STOPPED, STOPPED, TARGET_REACHED, EpochEnd, LearningRateChanged, Progress, TrainingEnd,
)
from core.data.splits import Splits

PROGRESS_INTERVAL_SECONDS = 0.25  # a point at least this often; and at each 1/25 of an epoch (batch_points.point_due)


def epochs_ran(epochs: int) -> str:
    """The reason a run completed: "the 1 epoch ran", "all 3 epochs ran"."""
    return "the 1 epoch ran" if epochs == 1 else f"all {epochs} epochs ran"


class _AbortFit(Exception):
    """Raised inside `fit` to leave it at once, without validating a half-finished epoch."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class Trainer:
    """Train one model, streaming events; `stop()` and `control` may be used from any thread.

    Args:
        config: the run's hyperparameters.
        splits: the arrays to train, validate and test on.
        progress_interval: seconds after which a `Progress` point is due; one is also due at
            each of an epoch's `POINTS_PER_EPOCH` marks, so a short epoch still gets ~24.
        control: the run's commands (pause, resume, step, learning rate, stop); a new one if None.
        compiled_models: a warm worker's cache of compiled models to take this run's from
            (tracing skipped, same metrics); None = build and compile a new one.
        on_epoch_model: called as `on_epoch_model(epoch, model, val_loss, state)` in the thread that trains,
            after each epoch that did not diverge, with the Keras model as that epoch left it (for the
            NumPy model, an equivalent Keras one), before the next epoch changes it, and `state`, what a
            continuation from that epoch needs besides the model (`continuation_state`): where the run's
            checkpoints are written. None = nothing.
        start: continue from a checkpoint's state (a fork, a resume): its weights and optimizer state, its
            epochs counted, the data order of the epochs after it, early stopping's count and the one-cycle
            schedule's cycles (`core.training.one_cycle_plan`); then train `config.epochs` more.
            Keras models only.

    Iterating yields `Progress` (points within an epoch), `EpochEnd` (after each epoch),
    `LearningRateChanged` (where `control` changed the rate) and, last, one `TrainingEnd`. Afterwards `model` holds the trained Keras model (the NumPy model is
    converted to an equivalent Keras one) and `epochs` the streamed `EpochEnd`s.
    """

    def __init__(self, config: TrainConfig, splits: Splits, progress_interval: float = PROGRESS_INTERVAL_SECONDS,
                 control: TrainingControl | None = None, compiled_models: CompiledModels | None = None,
                 on_epoch_model: Callable | None = None, start: TrainingStart | None = None):
        if config.batch_size > splits.train_count:
            raise ConfigError(
                f"`batch_size`={config.batch_size} is larger than the {splits.train_count} training images. "
                f"Pass a batch size of at most {splits.train_count}, or 0 for full-batch training."
            )
        if splits.train_count < 2:
            raise ConfigError("At least 2 training images are needed; pass a larger `train_size`.")
        self.config = config
        self.splits = splits
        self.progress_interval = progress_interval
        self.model = None
        self.history = None  # Keras's own History, when fit ran to its end
        self.epochs: list[EpochEnd] = []
        self.control = control or TrainingControl()
        self.compiled_models = compiled_models
        self.on_epoch_model = on_epoch_model
        if start is not None and config.model == "numpy_logreg":
            raise ConfigError("`numpy_logreg` runs cannot be continued from a checkpoint; "
                              "fork or resume a Keras model such as `softmax`.")
        self.start = start
        self.steps_per_epoch = math.ceil(splits.train_count / self.batch_size)
        self.cycles = None  # the one-cycle schedule's cycles, in optimizer steps
        if config.schedule == "one_cycle":
            steps = config.epochs * self.steps_per_epoch
            if start is None:
                self.cycles = fresh_cycles(steps)
            else:
                done = start.steps_done(self.steps_per_epoch)
                self.cycles = continued_cycles(start.cycles, done, done + steps)
        self.patience = PatienceCount() if start is None or start.patience is None else start.patience

    def continuation_state(self) -> dict:
        """What a continuation from the epoch just ended needs besides the model: early stopping's count and
        the one-cycle schedule (its cycles, its steps per epoch and the scale a live rate change gave it)."""
        state = {"patience": self.patience.to_dict()}
        if self.cycles is not None:
            schedule = getattr(getattr(self.model, "optimizer", None), "_learning_rate", None)
            scale = getattr(schedule, "scale", None)
            state["one_cycle"] = {"cycles": [list(cycle) for cycle in self.cycles], "steps_per_epoch": self.steps_per_epoch,
                                  "scale": 1.0 if scale is None else float(scale.numpy())}
        return state

    def stop(self) -> None:
        """Ask the run to stop; it does so after the batch in progress, keeping finished epochs."""
        self.control.stop()

    @property
    def stop_requested(self) -> bool:
        return self.control.stop_requested

    def __iter__(self) -> Iterator[Progress | EpochEnd | LearningRateChanged | TrainingEnd]:
        if self.config.model == "numpy_logreg":
            events = self._train_numpy()
        else:
            events = self._train_keras()
        for event in events:
            if isinstance(event, EpochEnd):
                self.epochs.append(event)
            yield event

    @property
    def batch_size(self) -> int:
        return self.config.batch_size or self.splits.train_count

    def _train_keras(self) -> Iterator:
        import keras

        from core.data.input_pipeline import epoch_ordered_batches, evaluation_batches
        from core.models.keras_models import build_keras_model
        from core.training.streaming_callback import StreamingCallback

        config, splits = self.config, self.splits
        steps_per_epoch = self.steps_per_epoch
        if self.compiled_models is not None:
            self.model = self.compiled_models.model_for(config, steps_per_epoch, self.cycles)
        else:
            self.model = build_keras_model(config, steps_per_epoch, cycles=self.cycles)
        events: queue.Queue = queue.Queue()
        streaming = StreamingCallback(
            events, self.control, steps_per_epoch, self.batch_size, splits.train_count,
            self.progress_interval, config.target_accuracy, _AbortFit,
        )
        callbacks = [streaming]  # first: on a diverged epoch it raises, and no checkpoint is written

        def epoch_ended(epoch, logs):
            val_loss = _maybe_float(logs.get("val_loss"))
            self.patience = self.patience.after(epoch + 1, val_loss)
            if self.on_epoch_model is not None:
                self.on_epoch_model(epoch + 1, self.model, val_loss, self.continuation_state())

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=epoch_ended))
        early_stopping = None
        if config.patience:  # counting on from a continuation's checkpoint (`core.training.patience`)
            start = self.start
            early_stopping = continued_early_stopping(
                self.patience, None if start is None else start.best_weights,
                monitor="val_loss", patience=config.patience, restore_best_weights=config.restore_best_weights,
            )
            callbacks.append(early_stopping)
        epochs_done = 0
        if self.start is not None:
            self.start.apply_to(self.model)
            epochs_done = self.start.epochs_done
        if self.compiled_models is not None:  # a warm worker: the previous run's pipeline when the arrays are the same
            training_data, set_epoch = self.compiled_models.training_batches(
                splits.train_images, splits.y_train, self.batch_size, config.seed)
        else:
            training_data, set_epoch = epoch_ordered_batches(splits.train_images, splits.y_train, self.batch_size, config.seed)
        # first: each epoch's pass over the data starts after its callbacks' on_epoch_begin
        callbacks.insert(0, keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: set_epoch(epoch + 1)))
        validation_data = None if splits.val_images is None else evaluation_batches(splits.val_images, splits.y_val)
        finished = object()

        def fit() -> None:
            try:
                self.history = self.model.fit(
                    training_data, initial_epoch=epochs_done, epochs=epochs_done + config.epochs,
                    validation_data=validation_data,
                    callbacks=callbacks, verbose=0, shuffle=False,  # training_data orders each epoch itself
                )
                events.put(finished)
            except BaseException as error:  # handed to the consuming thread
                events.put(error)

        worker = threading.Thread(target=fit, name=f"fit-{config.model}", daemon=True)
        worker.start()
        ended = False
        try:
            while True:
                item = events.get()
                if item is finished:
                    break
                if isinstance(item, _AbortFit):
                    yield TrainingEnd(item.status, item.reason, len(self.epochs), self._best_epoch())
                    ended = True
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not ended:
                self.control.stop()  # the consumer left early: end the worker too
            worker.join()
        if streaming.target_reached:
            status, reason = TARGET_REACHED, f"train accuracy passed {config.target_accuracy:g}"
        elif early_stopping is not None and early_stopping.stopped_epoch > 0:
            status = EARLY_STOPPED
            reason = f"val_loss did not improve for {config.patience} epochs"
        else:
            status, reason = COMPLETED, epochs_ran(config.epochs)
        yield TrainingEnd(status, reason, len(self.epochs), self._best_epoch())

    def _best_epoch(self) -> int | None:
        """The epoch with the lowest finite `val_loss` (the first of equals), None without validation."""
        scored = [e for e in self.epochs if e.val_loss is not None and math.isfinite(e.val_loss)]
        return min(scored, key=lambda e: e.val_loss).epoch if scored else None

    def _train_numpy(self) -> Iterator:
        from core.models.numpy_logreg import NumpyLogisticRegression

        config, splits = self.config, self.splits  # TrainConfig refuses optimizers other than SGD here
        scale = 255.0 if config.pixel_scale == "raw" else 1.0
        x_train = splits.x_train.reshape(splits.train_count, -1).astype(np.float64) * scale
        x_val = None if splits.val_images is None else splits.x_val.reshape(len(splits.y_val), -1).astype(np.float64) * scale
        model = NumpyLogisticRegression(config.seed)
        rng = np.random.default_rng(config.seed)
        batch = self.batch_size
        status, reason = COMPLETED, epochs_ran(config.epochs)
        best_val_loss, waited = math.inf, 0
        learning_rate = config.learning_rate  # `control.set_learning_rate` may change it mid-run
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            order = rng.permutation(len(x_train)) if batch < len(x_train) else np.arange(len(x_train))
            last_tick, reported = -math.inf, 0  # the epoch's first batch reports at once, as the Keras callback's
            for step_in_epoch, start in enumerate(range(0, len(order), batch)):
                held_from = time.perf_counter()
                self.control.before_batch()  # holds here while paused
                if time.perf_counter() - held_from > 0.05:  # paused: no training time
                    started += time.perf_counter() - held_from
                if self.control.stop_requested:
                    self.model = model.to_keras()
                    yield TrainingEnd(STOPPED, self.control.stop_reason, len(self.epochs), self._best_epoch())
                    return
                steps_per_epoch = math.ceil(len(order) / batch)
                step = (epoch - 1) * steps_per_epoch + step_in_epoch
                changed = self.control.take_learning_rate()
                if changed is not None:
                    yield LearningRateChanged(epoch, step_in_epoch / steps_per_epoch, step, changed, learning_rate)
                    learning_rate = changed
                chosen = order[start : start + batch]
                model.step(x_train[chosen], splits.y_train[chosen], learning_rate)
                now = time.perf_counter()
                done = step_in_epoch + 1
                if point_due(done, reported, math.ceil(len(order) / batch), now - last_tick, self.progress_interval):
                    last_tick, reported = now, done
                    yield Progress(epoch, (start + batch) / len(order), model.loss(x_train[chosen], splits.y_train[chosen]),
                                   model.accuracy(x_train[chosen], splits.y_train[chosen]), now - started,
                                   samples=len(chosen), step=step + 1, learning_rate=learning_rate)
            loss, accuracy = model.loss(x_train, splits.y_train), model.accuracy(x_train, splits.y_train)
            seconds = time.perf_counter() - started
            val_loss = val_accuracy = None
            if x_val is not None:
                val_loss, val_accuracy = model.loss(x_val, splits.y_val), model.accuracy(x_val, splits.y_val)
            yield EpochEnd(epoch, loss, accuracy, val_loss, val_accuracy, learning_rate, seconds,
                           len(x_train) / max(seconds, 1e-9))
            if not (math.isfinite(loss) and np.all(np.isfinite(model.weights))):
                status, reason = DIVERGED, f"the loss became {loss} at epoch {epoch}; lower the learning rate"
                break
            if self.on_epoch_model is not None:
                self.on_epoch_model(epoch, model.to_keras(), val_loss, {})  # numpy_logreg never continues
            if config.target_accuracy and accuracy > config.target_accuracy:
                status, reason = TARGET_REACHED, f"train accuracy passed {config.target_accuracy:g}"
                break
            if config.patience and val_loss is not None:
                if val_loss < best_val_loss:
                    best_val_loss, waited = val_loss, 0
                else:
                    waited += 1
                    if waited >= config.patience:
                        status, reason = EARLY_STOPPED, f"val_loss did not improve for {config.patience} epochs"
                        break
        self.model = model.to_keras()
        yield TrainingEnd(status, reason, len(self.epochs), self._best_epoch())


def _maybe_float(value) -> float | None:
    return None if value is None else float(value)
