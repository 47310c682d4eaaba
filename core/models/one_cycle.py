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

    def __call__(self, step):
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
