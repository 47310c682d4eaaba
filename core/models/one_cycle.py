"""The one-cycle learning-rate schedule (Smith, 2018): warm up, then anneal to almost zero."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mnist_lab")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from `max_learning_rate / 25` to `max_learning_rate`, then cosine decay.

    A run has one cycle over its steps. A continued run (a resume, a fork) may have two: the cycle its
    checkpoint was in, finished as it was planned, then a new one over the steps past it
    (`core.training.one_cycle_plan`); past the last cycle the rate stays at its end value.

    Args:
        max_learning_rate: the peak rate.
        total_steps: optimizer steps in the whole run (the one cycle `(0, total_steps)`, when `cycles` is None).
        warmup_fraction: share of each cycle's steps spent warming up.
        cycles: `((start_step, end_step), ...)`, ascending and contiguous: each cycle's optimizer steps.
    """

    def __init__(self, max_learning_rate: float, total_steps: int, warmup_fraction: float = 0.25, cycles=None):
        self.max_learning_rate = float(max_learning_rate)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_fraction = float(warmup_fraction)
        self.cycles = tuple((int(start), max(int(end), int(start) + 1)) for start, end in cycles) if cycles \
            else ((0, self.total_steps),)
        # a live change of the learning rate scales the whole curve (see `rescale_to`)
        self.scale = keras.Variable(1.0, trainable=False, dtype="float32", name="one_cycle_scale")

    def rescale_to(self, learning_rate: float, step) -> None:
        """Scale the curve so that its value at `step` is `learning_rate`."""
        unscaled = float(keras.ops.convert_to_numpy(self._unscaled(step)))
        self.scale.assign(learning_rate / max(unscaled, 1e-12))

    def __call__(self, step):
        return self._unscaled(step) * self.scale

    def _unscaled(self, step):
        step = ops.cast(step, "float32")
        *earlier, (start, end) = self.cycles
        value = self._cycle(step, start, end)  # the last cycle, and what stays past its end
        for start, end in reversed(earlier):
            value = ops.where(step < end, self._cycle(step, start, end), value)
        return value

    def _cycle(self, step, start: int, end: int):
        """One cycle's rate at `step` (the curve of a run whose steps are `end - start`)."""
        total_steps = end - start
        if start:
            step = step - float(start)
        warmup_steps = max(total_steps * self.warmup_fraction, 1.0)
        start_rate = self.max_learning_rate / 25.0
        warming = start_rate + (self.max_learning_rate - start_rate) * step / warmup_steps
        progress = ops.clip((step - warmup_steps) / max(total_steps - warmup_steps, 1.0), 0.0, 1.0)
        annealing = self.max_learning_rate * 0.5 * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < warmup_steps, warming, annealing + 1e-6)

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_fraction,
            "cycles": [list(cycle) for cycle in self.cycles],
        }
