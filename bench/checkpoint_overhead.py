"""What a checkpoint per epoch costs: the same run with and without checkpoints, on the full MNIST.

For each model (`fast` and `lenet5` by default, their presets, all training images), one process
trains the run twice through `core.runs.recorded_run.RecordedRun` (the path workers take): once
with `checkpoint_budget_mb=0` and `keep_best_epoch=False` (no checkpoint, nothing copied), once
with the default budget (a checkpoint per epoch: the NumPy translation, the 10,000 test images
predicted, the Keras weights and optimizer state written, the budget pruned). The first epoch of
each (tracing) is left out: what is timed is the wall time from one `EpochEnd` to the next, which
holds the previous epoch's checkpoint (written in the training thread, before the next epoch
starts) and the next epoch's training and validation.

Printed per model: seconds per epoch without and with, `checkpoint_overhead=<with / without - 1>`,
and, as a cross-check that does not depend on two runs seeing the same load, the seconds spent
inside the checkpoint writer over the epochs' seconds (`writer_share=`). Then the size of a
`lenet5` checkpoint measured here, and what a 30-epoch `lenet5` run keeps within the default budget
(`lenet5_30_epochs_mb=`). The machine is shared: CPU model and load average are printed beside.

Usage:
    PYTHONPATH=. .venv/bin/python bench/checkpoint_overhead.py [--model fast --model lenet5] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core  # noqa: E402,F401  (turns oneDNN on before TensorFlow is imported)
from shared_machine import cpu_model  # noqa: E402  (bench/, this script's folder)


def timed_run(config, mnist, runs_dir: Path, name: str) -> dict:
    """Train `config`; the wall seconds between consecutive epoch ends, and the writer's own seconds."""
    from core.runs.recorded_run import RecordedRun

    run = RecordedRun(config, runs_dir=runs_dir, name=name, mnist=mnist)
    writer_seconds = []
    if run.checkpoints is not None:
        write = run.checkpoints.write

        def timed_write(*args):
            started = time.perf_counter()
            try:
                return write(*args)
            finally:
                writer_seconds.append(time.perf_counter() - started)

        run.checkpoints.write = timed_write
    ends, epoch_seconds = [], []
    for event in run:
        if event.event == "epoch":
            ends.append(time.perf_counter())
            epoch_seconds.append(event.seconds)
    between = [later - earlier for earlier, later in zip(ends, ends[1:])]
    return {"between": between, "epoch_seconds": epoch_seconds, "writer_seconds": writer_seconds, "run": run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="zoo model (repeatable; default fast and lenet5)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not timed)")
    args = parser.parse_args(argv)
    models = args.model or ["fast", "lenet5"]

    from core.config.train_config import preset_config
    from core.data.mnist import load_mnist
    from core.runs.checkpoints import (
        CHECKPOINTS_DIR, MEGABYTE, budget_note, checkpoint_interval, epoch_folder_name, epochs_in, folder_bytes,
        kept_epochs,
    )

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    mnist = load_mnist()
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="checkpoint-overhead-") as folder:
        runs_dir = Path(folder)
        for model in models:
            base = preset_config(model, epochs=args.epochs, train_size=0, patience=0, target_accuracy=0.0)
            without = timed_run(base.replace(checkpoint_budget_mb=0.0, keep_best_epoch=False), mnist, runs_dir, f"{model}-without")
            with_ = timed_run(base, mnist, runs_dir, f"{model}-with")
            plain, checkpointed = statistics.mean(without["between"]), statistics.mean(with_["between"])
            writer = sum(with_["writer_seconds"]) / sum(with_["epoch_seconds"])
            checkpoints = runs_dir / f"{model}-with" / CHECKPOINTS_DIR
            sizes[model] = max(folder_bytes(checkpoints / epoch_folder_name(e)) for e in epochs_in(checkpoints))
            print(f"{model}: {len(mnist.y_train):,} train images, {base.epochs} epochs, timed epochs 2..{base.epochs}: "
                  f"{plain:.2f} s/epoch without checkpoints, {checkpointed:.2f} s/epoch with "
                  f"(writer {statistics.mean(with_['writer_seconds']):.3f} s a checkpoint, "
                  f"{sizes[model] / MEGABYTE:.2f} MB each); load average now {os.getloadavg()[0]:.2f}", flush=True)
            print(f"{model} checkpoint_overhead={checkpointed / plain - 1:.4f} writer_share={writer:.4f}", flush=True)
    if "lenet5" in sizes:
        budget = preset_config("lenet5").checkpoint_budget_mb
        interval = checkpoint_interval(budget * MEGABYTE, sizes["lenet5"], 30)
        kept = kept_epochs(list(range(1, 31)), None, interval)
        total = len(kept) * sizes["lenet5"] / MEGABYTE
        print(f"a 30-epoch lenet5 run within the default {budget:g} MB budget: "
              f"{budget_note(budget, sizes['lenet5'] / MEGABYTE, 30)}", flush=True)
        print(f"lenet5_30_epochs_mb={total:.1f} (checkpoints only; the run's own model.keras, model.numpy.npz and "
              "predictions.npz add about one checkpoint more)", flush=True)
    print(f"load average after: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
