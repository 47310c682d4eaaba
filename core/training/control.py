"""Steering a running training from another thread: stop, pause, resume, step, set the learning rate.

The trainer's Keras callback calls `before_batch()` before each call into TensorFlow; that is
where a pause holds the run and where a new learning rate is taken. So every command takes
effect at the next batch boundary (with `steps_per_execution` > 1, at the next group of batches).
"""

from __future__ import annotations

import math
import threading

STOPPED_BY_REQUEST = "stopped by request"

class TrainingControl:
    """Commands for one run, safe to call from any thread."""

    def __init__(self):
        self._condition = threading.Condition()
        self._stopped = False
        self._stop_reason = STOPPED_BY_REQUEST
        self._paused = False
        self._steps_allowed = 0  # batches to run while paused (`step()`)
        self._learning_rate: float | None = None  # waiting to be applied

    # --- commands ---------------------------------------------------------------------------

    def stop(self, reason: str | None = None) -> None:
        """End the run after the batch in progress; a paused run stops at once.

        Args:
            reason: why, in words, as the run's end will say it (default: "stopped by request").
                The first reason given stays.
        """
        with self._condition:
            if reason and not self._stopped:
                self._stop_reason = reason
            self._stopped = True
            self._condition.notify_all()

    def pause(self) -> None:
        with self._condition:
            self._paused = True
            self._steps_allowed = 0

    def resume(self) -> None:
        with self._condition:
            self._paused = False
            self._condition.notify_all()

    def step(self) -> None:
        """While paused, let one more batch (or group of batches) run, then hold again."""
        with self._condition:
            self._steps_allowed += 1
            self._condition.notify_all()

    def set_learning_rate(self, learning_rate: float) -> None:
        """Train with `learning_rate` from the next batch on.

        Raises:
            ValueError: if it is not a positive finite number.
        """
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) \
                or not (math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"Received an invalid value for `learning_rate`, expected a positive finite number. "
                             f"Received: learning_rate={learning_rate!r}")
        with self._condition:
            self._learning_rate = float(learning_rate)

    # --- read by the trainer ----------------------------------------------------------------

    @property
    def stop_requested(self) -> bool:
        return self._stopped

    @property
    def stop_reason(self) -> str:
        """Why the run stops, once `stop_requested`: "stopped by request", or the reason `stop` was given."""
        return self._stop_reason

    @property
    def paused(self) -> bool:
        return self._paused

    def before_batch(self) -> None:
        """Block while paused (unless a step was allowed); return at once when stopped or running."""
        with self._condition:
            while self._paused and not self._stopped and not self._steps_allowed:
                self._condition.wait()
            if self._paused and self._steps_allowed:
                self._steps_allowed -= 1

    def take_learning_rate(self) -> float | None:
        """The learning rate asked for since the last call, or None."""
        with self._condition:
            learning_rate, self._learning_rate = self._learning_rate, None
            return learning_rate
