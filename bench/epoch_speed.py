"""Seconds per epoch of the zoo's Keras models, against plain Keras defaults and the machine's limit.

For each model (`cnn`, `lenet5`, `mlp` by default) this prints:

- **ours**: one epoch through `core.training.trainer.Trainer` (the streaming trainer the dashboard and CLI
  use) with the project's settings (oneDNN on, as `core/__init__.py` sets it);
- **defaults**: the same model trained the way a Keras user gets by default: a bare `model.fit`
  with Keras's default batch size (32), in a fresh process started with `TF_ENABLE_ONEDNN_OPTS=0`
  (TensorFlow's default on CPUs without AVX-512 VNNI/AMX). The target is ours ≤ 0.5× this for `cnn`;
- **plain, same batch**: a bare `model.fit` with oneDNN off but the preset's own batch size, so the
  like-for-like share of the gain (oneDNN, our trainer) is visible apart from the batch size's;
- the arithmetic of one 60,000-image epoch (FLOPs counted from the model's layers) and the share
  of the machine's numpy float32 matmul rate (measured here, in this run) that each side achieves.

Each side trains on a subset (`--images`, default 6,000) for one warm-up epoch (tracing, oneDNN
primitive creation) then `--epochs` timed epochs; seconds are extrapolated linearly to 60,000
images. No validation runs in the timed epochs. Both sides run in their own subprocess, one after
the other, so neither shares a process (or a warm TensorFlow) with the other.

Usage:
    PYTHONPATH=. .venv/bin/python bench/epoch_speed.py [--models cnn,lenet5,mlp] [--images 6000]
        [--pause-pid PID ...] [--out bench/results/epoch_speed.txt]

The last line is `cnn_ours_over_defaults=<ratio>` (when `cnn` is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from shared_machine import Transcript, add_pause_argument, cpu_ticks, paused, paused_line, load_text, share_of_run

ROOT = Path(__file__).resolve().parents[1]
EPOCH_IMAGES = 60_000
MATMUL_SIZE = 2048


def matmul_gflops(size: int = MATMUL_SIZE, repeats: int = 10) -> float:
    """numpy float32 `size × size` matmul rate in GFLOP/s: the best of `repeats` timed products."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b  # warm-up: thread pool start, page faults
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def forward_flops(model) -> int:
    """Multiply-adds × 2 of one image's forward pass through `model`'s Conv2D and Dense layers.

    Pooling, activations, dropout and the loss are not counted: they are a few per cent of the
    arithmetic and none of it is matmul-shaped.
    """
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, height, width, channels = layer.output.shape
            kernel_height, kernel_width = layer.kernel_size
            total += 2 * height * width * channels * kernel_height * kernel_width * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def training_flops_per_epoch(model, images: int = EPOCH_IMAGES) -> float:
    """Forward + backward arithmetic of one epoch: 3 × forward (the backward pass computes the
    gradients with respect to both the inputs and the weights, each as costly as the forward)."""
    return 3.0 * forward_flops(model) * images


def measure_ours(model_name: str, images: int, epochs: int) -> dict:
    """Time `epochs` epochs (after one warm-up) of the zoo preset through the streaming trainer."""
    import core  # noqa: F401  (oneDNN on, as in the product)
    from core.data.mnist import load_mnist
    from core.data.splits import make_splits
    from core.training.trainer import Trainer
    from core.config.train_config import preset_config

    config = preset_config(model_name, epochs=1 + epochs, train_size=images, validation="none", patience=0,
                           target_accuracy=0.0)
    trainer = Trainer(config, make_splits(load_mnist(), config))
    seconds = [event.seconds for event in trainer if event.event == "epoch"]
    return _summary(trainer.model, config, seconds[1:], images)


KERAS_DEFAULT_BATCH_SIZE = 32  # `model.fit`'s batch size when none is given


def measure_plain(model_name: str, images: int, epochs: int, keras_batch_size: bool = False) -> dict:
    """The same model trained by a bare `model.fit`, at the preset's batch size or Keras's default."""
    import keras

    from core.data.mnist import load_mnist
    from core.models.keras_models import build_keras_model
    from core.data.splits import make_splits
    from core.config.train_config import preset_config

    config = preset_config(model_name, epochs=1 + epochs, train_size=images, validation="none", patience=0,
                           target_accuracy=0.0)
    splits = make_splits(load_mnist(), config)
    batch_size = KERAS_DEFAULT_BATCH_SIZE if keras_batch_size else (config.batch_size or len(splits.x_train))
    # Keras's own default of one batch a call: the plain sides use none of the project's settings.
    model = build_keras_model(config, steps_per_epoch=-(-len(splits.x_train) // batch_size), steps_per_execution=1)
    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    model.fit(splits.x_train, splits.y_train, batch_size=batch_size, epochs=config.epochs, verbose=0,
              callbacks=[EpochTimer()])
    return _summary(model, config, seconds[1:], images, batch_size)


def _summary(model, config, seconds: list[float], images: int, batch_size: int | None = None) -> dict:
    import tensorflow as tf

    per_epoch = statistics.median(seconds) * EPOCH_IMAGES / images
    return {
        "seconds_per_epoch": per_epoch,
        "timed_epochs": [round(s, 3) for s in seconds],
        "tflop_per_epoch": training_flops_per_epoch(model) / 1e12,
        "batch_size": batch_size or config.batch_size,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "tensorflow": tf.__version__,
    }


def run_side(side: str, model_name: str, images: int, epochs: int) -> dict:
    """Measure one side in a fresh Python process (plain: with oneDNN off before TF's import)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    env["TF_ENABLE_ONEDNN_OPTS"] = "1" if side == "ours" else "0"
    command = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--models", model_name,
               "--images", str(images), "--epochs", str(epochs)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{side} {model_name} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seconds per epoch: our trainer vs plain Keras defaults.")
    parser.add_argument("--models", default="cnn,lenet5,mlp", help="comma-separated zoo models")
    parser.add_argument("--images", type=int, default=6000, help="training images per timed epoch")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after the warm-up epoch")
    add_pause_argument(parser)
    parser.add_argument("--out", help="also write the report to this file")
    parser.add_argument("--side", choices=("ours", "plain", "defaults"), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]

    if args.side:
        if args.side == "ours":
            print(json.dumps(measure_ours(models[0], args.images, args.epochs)))
        else:
            print(json.dumps(measure_plain(models[0], args.images, args.epochs, args.side == "defaults")))
        return 0

    with paused(args.pause_pid):
        report = measure_all(models, args)
    if args.out:
        Path(args.out).write_text(report)
    return 0


def measure_all(models: list[str], args: argparse.Namespace) -> str:
    """Run every measurement, printing as it goes; returns everything printed."""
    transcript = Transcript()
    say = transcript.say

    if args.pause_pid:
        say(paused_line(args.pause_pid))
    ticks_at_start = cpu_ticks()
    gflops = matmul_gflops()
    say(f"load average at start: {load_text()}")
    say(f"numpy float32 matmul ({MATMUL_SIZE}x{MATMUL_SIZE}, best of 10): {gflops:.0f} GFLOP/s")
    say(f"timing {args.epochs} epoch(s) of {args.images} images after one warm-up epoch, "
        f"extrapolated to {EPOCH_IMAGES} images")
    say()
    header = (f"{'model':<8} {'batch':>5} {'TFLOP/epoch':>11} {'floor s':>8} {'ours s':>8} {'defaults s':>10} "
              f"{'same-batch s':>12} {'ours/defaults':>13} {'ours/same-batch':>15} {'ours %peak':>10} "
              f"{'defaults %peak':>14}")
    rows, cnn_ratio = [], None
    for model_name in models:
        ours = run_side("ours", model_name, args.images, args.epochs)
        defaults = run_side("defaults", model_name, args.images, args.epochs)
        plain = run_side("plain", model_name, args.images, args.epochs)
        floor = ours["tflop_per_epoch"] * 1e3 / gflops
        ratio = ours["seconds_per_epoch"] / defaults["seconds_per_epoch"]
        cnn_ratio = ratio if model_name == "cnn" else cnn_ratio
        rows.append(
            f"{model_name:<8} {ours['batch_size']:>5} {ours['tflop_per_epoch']:>11.2f} {floor:>8.1f} "
            f"{ours['seconds_per_epoch']:>8.1f} {defaults['seconds_per_epoch']:>10.1f} {plain['seconds_per_epoch']:>12.1f} "
            f"{ratio:>13.2f} {ours['seconds_per_epoch'] / plain['seconds_per_epoch']:>15.2f} "
            f"{100 * floor / ours['seconds_per_epoch']:>9.0f}% {100 * floor / defaults['seconds_per_epoch']:>13.0f}%"
        )
        say(f"{model_name}: ours {ours['timed_epochs']} s, Keras defaults {defaults['timed_epochs']} s, "
            f"same batch {plain['timed_epochs']} s (per {args.images} images)")
    say()
    say(header)
    for row in rows:
        say(row)
    say()
    say(f"load average at end: {load_text()}")
    ticks_at_end = cpu_ticks()
    say(f"CPU time taken by the virtual machine's host for other guests (steal) during the measurements: "
        f"{share_of_run(ticks_at_start, ticks_at_end, 'steal'):.0%}; "
        f"left idle: {share_of_run(ticks_at_start, ticks_at_end, 'idle'):.0%}")
    say("floor s = the epoch's arithmetic at the measured numpy matmul rate; ours = core.training.trainer.Trainer, "
        "preset batch, oneDNN on; defaults = bare model.fit, batch 32, TF_ENABLE_ONEDNN_OPTS=0; "
        "same-batch = bare model.fit, preset batch, TF_ENABLE_ONEDNN_OPTS=0")
    if cnn_ratio is not None:
        say(f"cnn_ours_over_defaults={cnn_ratio:.3f}")
    return transcript.text()


if __name__ == "__main__":
    sys.exit(main())
