"""What the streaming trainer costs over a plain `model.fit`: same model, same data, one process.

Each repeat trains the same zoo model twice on the same images: once with a bare
`model.fit(...)` (no callbacks) and once through `core.training.trainer.Trainer` (fit on a worker
thread, the streaming callback, events drained by this thread as the dashboard would). The
order alternates between repeats so that neither side always runs on a warmer or cooler
machine. Both sides build their model with `core.models.keras_models.build_keras_model`, and
both have that build (layers and compile) timed separately and left out of their figure;
what is timed is `fit`, including its first-call tracing, which both sides pay alike. One
warm-up pair runs first and is not counted (TensorFlow's one-off start-up costs).

The last line printed is `ratio=<median trainer seconds / median model.fit seconds>`; the
trainer is meant to stay within 5% (ratio <= 1.05). On a machine shared with other work the
figures are noisy: the load average is printed before and after, with a warning when it is high.

Usage:
    .venv/bin/python bench/trainer_overhead.py [--model lenet5] [--images 15000] [--epochs 2]
        [--batch-size 128] [--repeats 7]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core  # noqa: E402,F401  (turns oneDNN on before TensorFlow is imported)

BUSY_LOAD_PER_CPU = 0.5  # a 1-minute load average above this per core means other work competes


def load_average() -> float:
    return os.getloadavg()[0]


class BuildTimer:
    """Wraps `build_keras_model` where the trainer imports it from, adding up its seconds."""

    def __init__(self):
        import core.models.keras_models as keras_models

        self.module = keras_models
        self.original = keras_models.build_keras_model
        self.seconds = 0.0
        keras_models.build_keras_model = self

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.original(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started

    def take(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def time_plain_fit(config, splits, build: BuildTimer) -> tuple[float, float]:
    """Wall and CPU seconds of a bare `model.fit` (no callbacks, no validation), build not counted.

    It reads the same batches the trainer does (`core.data.input_pipeline`), so what differs is only
    the streaming: the worker thread, the callback and the event queue.
    """
    from core.data.input_pipeline import training_batches

    model = build(config, math.ceil(len(splits.x_train) / config.batch_size))
    build.take()
    started, cpu_started = time.perf_counter(), time.process_time()
    batches = training_batches(splits.x_train, splits.y_train, config.batch_size, config.seed)
    model.fit(batches, epochs=config.epochs, shuffle=False, verbose=0)
    return time.perf_counter() - started, time.process_time() - cpu_started


def time_trainer(config, splits, build: BuildTimer) -> tuple[float, float]:
    """Wall and CPU seconds to drain `Trainer(config, splits)`, less the model build it does inside.

    The build's CPU time is taken as its wall time (it runs on this thread, single-threaded).
    """
    from core.training.events import COMPLETED
    from core.training.trainer import Trainer

    trainer = Trainer(config, splits)
    build.take()
    started, cpu_started = time.perf_counter(), time.process_time()
    events = list(trainer)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    build_seconds = build.take()
    assert events[-1].status == COMPLETED and len(trainer.epochs) == config.epochs, events[-1]
    return wall - build_seconds, cpu - build_seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--images", type=int, default=15_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    from core.data.mnist import load_mnist
    from core.data.splits import make_splits
    from core.config.zoo import SPECS
    from core.config.train_config import from_dict

    config = from_dict({**SPECS[args.model].preset, "model": args.model, "epochs": args.epochs,
                        "batch_size": args.batch_size, "train_size": args.images, "validation": "none",
                        "patience": 0, "target_accuracy": 0.0})
    splits = make_splits(load_mnist(), config)
    build = BuildTimer()
    cpus = os.cpu_count() or 1
    load_before = load_average()
    print(f"{args.model}: {len(splits.x_train)} images, batch {config.batch_size}, {config.epochs} epoch(s), "
          f"{config.optimizer} lr {config.learning_rate:g}, no validation; {args.repeats} repeats, "
          "order alternating, model build excluded from both")
    print(f"machine: {platform.processor() or platform.machine()}, {cpus} CPU(s), "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, nice {os.nice(0)}, "
          f"load average {load_before:.2f}, {time.strftime('%Y-%m-%d %H:%M:%S')}")

    time_plain_fit(config, splits, build)  # warm-up pair, not counted
    time_trainer(config, splits, build)
    plain, streamed, plain_cpu, streamed_cpu = [], [], [], []
    for repeat in range(args.repeats):
        sides = [("fit", time_plain_fit, plain, plain_cpu), ("trainer", time_trainer, streamed, streamed_cpu)]
        if repeat % 2:
            sides.reverse()
        figures = []
        for label, timed, wall, cpu in sides:
            seconds, cpu_seconds = timed(config, splits, build)
            wall.append(seconds)
            cpu.append(cpu_seconds)
            figures.append(f"{label} {seconds:.2f}s ({cpu_seconds:.2f} CPU-s)")
        print(f"repeat {repeat + 1}: {', '.join(figures)}; trainer/fit {streamed[-1] / plain[-1]:.3f}", flush=True)

    load_after = load_average()
    pair_ratios = [s / p for s, p in zip(streamed, plain)]
    print(f"model.fit: median {statistics.median(plain):.3f}s, min {min(plain):.3f}s")
    print(f"trainer:   median {statistics.median(streamed):.3f}s, min {min(streamed):.3f}s")
    print(f"per-repeat ratios: {', '.join(f'{r:.3f}' for r in pair_ratios)} (median {statistics.median(pair_ratios):.3f}); "
          f"min/min {min(streamed) / min(plain):.3f}")
    print(f"CPU seconds (all threads): model.fit median {statistics.median(plain_cpu):.3f}, "
          f"trainer median {statistics.median(streamed_cpu):.3f}, "
          f"ratio {statistics.median(streamed_cpu) / statistics.median(plain_cpu):.3f}")
    print(f"load average before {load_before:.2f}, after {load_after:.2f}")
    if max(load_before, load_after) > BUSY_LOAD_PER_CPU * cpus:
        print(f"NOTE: the machine was busy with other work (load above {BUSY_LOAD_PER_CPU * cpus:.1f} on "
              f"{cpus} CPUs); these figures are noisy.")
    print(f"ratio={statistics.median(streamed) / statistics.median(plain):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
