"""Measure each zoo model's epoch cost on this machine: the baselines of `core/training/epoch_estimate.py`.

Fits, per model, `epoch seconds = train_steps × step_seconds + n_train × sample_seconds
+ val_steps × val_step_seconds + n_val × val_sample_seconds` (Keras validates in batches of
the training batch size) from four short trainings on a subset of real MNIST: two batch sizes,
each without and with a 5,000-image hold-out. Each timing is the cheapest epoch after the first
(the first traces the graph), counted in CPU seconds of the whole process rather than wall
seconds: on a shared machine wall time measures the neighbours, while CPU time stays close to
the wall time of an idle 2-core machine (checked against the idle timings in
`../shared/STACK.md`: MLP batch 100, 60,000 images, 5.0 CPU s here vs 6.4 s idle wall; LeNet-5
batch 128: 11.4 vs 9-11 s; batch 32: 17.7 vs 15 s). Prints lines to paste into `BASELINES`.

    PYTHONPATH=. .venv/bin/python bench/epoch_throughput.py [model ...]
"""

from __future__ import annotations

import math
import sys
import time

import core  # noqa: F401  (oneDNN on before TensorFlow loads)
from core.data.mnist import load_mnist
from core.training.events import EpochEnd
from core.data.splits import make_splits
from core.training.trainer import Trainer
from core.config.train_form import build_config, default_values
from core.config.zoo import MODEL_NAMES

SMALL_BATCH, LARGE_BATCH = 32, 512
VALIDATION_SIZE = 5000
EPOCHS = 4


def subset_size(model: str) -> int:
    return 3000 if model in ("cnn", "cnn_deep") else 6000


def cheapest_epoch(model: str, batch_size: int, validation: str) -> float:
    """CPU seconds (all threads) of the cheapest epoch after the first, of a short training."""
    config = build_config(default_values(model) | dict(
        epochs=EPOCHS, batch_size=batch_size, train_size=subset_size(model), validation=validation,
        validation_size=VALIDATION_SIZE, patience=0, target_accuracy=0.0, schedule="constant",
    ))
    trainer = Trainer(config, make_splits(load_mnist(), config))
    cpu_seconds, started = [], time.process_time()
    for event in trainer:
        if isinstance(event, EpochEnd):
            now = time.process_time()
            cpu_seconds.append(now - started)
            started = now
    return min(cpu_seconds[1:])


def fit_line(steps: tuple[int, int], samples: int, seconds: tuple[float, float]) -> tuple[float, float]:
    """`(per-step, per-sample)` seconds through two `(steps, seconds)` points of one sample count."""
    per_step = max(0.0, (seconds[0] - seconds[1]) / (steps[0] - steps[1]))
    per_sample = max(0.0, (seconds[0] - steps[0] * per_step) / samples)
    return per_step, per_sample


def measure(model: str) -> dict:
    n = subset_size(model)
    train = tuple(cheapest_epoch(model, batch, "none") for batch in (SMALL_BATCH, LARGE_BATCH))
    validated = tuple(cheapest_epoch(model, batch, "holdout") for batch in (SMALL_BATCH, LARGE_BATCH))
    step_seconds, sample_seconds = fit_line((math.ceil(n / SMALL_BATCH), math.ceil(n / LARGE_BATCH)), n, train)
    val_step_seconds, val_sample_seconds = fit_line(
        (math.ceil(VALIDATION_SIZE / SMALL_BATCH), math.ceil(VALIDATION_SIZE / LARGE_BATCH)), VALIDATION_SIZE,
        (validated[0] - train[0], validated[1] - train[1]),
    )
    print(f"# {model}: n={n}, epoch seconds without / with validation: batch {SMALL_BATCH} "
          f"{train[0]:.2f} / {validated[0]:.2f}, batch {LARGE_BATCH} {train[1]:.2f} / {validated[1]:.2f}", flush=True)
    return dict(step_seconds=step_seconds, sample_seconds=sample_seconds,
                val_step_seconds=val_step_seconds, val_sample_seconds=val_sample_seconds)


if __name__ == "__main__":
    for name in sys.argv[1:] or MODEL_NAMES:
        costs = measure(name)
        print(f'    "{name}": EpochCost(' + ", ".join(f"{k}={v:.3g}" for k, v in costs.items()) + "),", flush=True)
