"""The one-cycle learning-rate schedule (Smith, 2018): warm up, then anneal to almost zero."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mnist_lab")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from `max_learning_rate / 25` to `max_learning_rate`, then cosine decay.

    Args:
        max_learning_rate: the peak rate.
        total_steps: optimizer steps in the whole run.
        warmup_fraction: share of `total_steps` spent warming up.
    """

    def __init__(self, max_learning_rate: float, total_steps: int, warmup_fraction: float = 0.25):
        self.max_learning_rate = float(max_learning_rate)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_fraction = float(warmup_fraction)
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
        warmup_steps = max(self.total_steps * self.warmup_fraction, 1.0)
        start = self.max_learning_rate / 25.0
        warming = start + (self.max_learning_rate - start) * step / warmup_steps
        progress = ops.clip((step - warmup_steps) / max(self.total_steps - warmup_steps, 1.0), 0.0, 1.0)
        annealing = self.max_learning_rate * 0.5 * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < warmup_steps, warming, annealing + 1e-6)

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_fraction,
        }
