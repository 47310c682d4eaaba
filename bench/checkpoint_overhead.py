"""What a checkpoint per epoch costs: the same run with and without checkpoints, on the full MNIST.

For each model (`fast` and `lenet5` by default, their presets, all training images), one process
trains the run `--repeats` times each way, alternated (without, with, without, with: the load of a
shared machine drifts), through `core.runs.recorded_run.RecordedRun` with a warm worker's compiled
models (`core.training.compiled_models`: the train, test and predict steps traced beforehand):
without is `checkpoint_budget_mb=0` and `keep_best_epoch=False` (no checkpoint, nothing copied,
no TensorBoard histograms), with is the default budget (a checkpoint per epoch: the 10,000 test
images predicted, the NumPy translation, the Keras weights and optimizer state copied in the
training thread, then written, fsynced and pruned on a thread of its own while the next epoch
trains; the histograms). The first epoch of each run (tracing) is left out: what is timed is the
wall time from one `EpochEnd` to the next, which holds the previous epoch's checkpoint and the next
epoch's training and validation.

Printed per model: seconds per epoch without and with, `checkpoint_overhead=<with / without - 1>`;
as a cross-check that does not depend on two runs seeing the same load, the seconds the training
thread spends in the checkpoint writer over the epochs' seconds (`writer_share=`); the background
thread's seconds a checkpoint; and the whole run's wall time each way (`run_overhead=`, which also
holds the first epoch's and the ending's part: the ending reuses the last checkpoint's predictions).
Then the size of a `lenet5` checkpoint measured here, and what a 30-epoch `lenet5` run keeps within
the default budget (`lenet5_30_epochs_mb=`). The machine is shared: CPU model and load average are
printed beside.

Usage:
    PYTHONPATH=. .venv/bin/python bench/checkpoint_overhead.py [--model fast --model lenet5] [--epochs 3] [--repeats 2]
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


def timed_run(config, mnist, runs_dir: Path, name: str, compiled_models) -> dict:
    """Train `config`: the wall seconds between consecutive epoch ends, the whole run's, and the checkpoints' own."""
    from core.runs.recorded_run import RecordedRun

    started = time.perf_counter()
    run = RecordedRun(config, runs_dir=runs_dir, name=name, mnist=mnist, compiled_models=compiled_models)
    writer_seconds, background_seconds = [], []
    hook_seconds: list[float] = []
    run.writer.log_histograms = timed(run.writer.log_histograms, hook_seconds)  # TensorBoard's, each epoch
    if run.checkpoints is not None:
        run.checkpoints.write = timed(run.checkpoints.write, writer_seconds)
        run.checkpoints._write_and_prune = timed(run.checkpoints._write_and_prune, background_seconds)
    ends, epoch_seconds = [], []
    for event in run:
        if event.event == "epoch":
            ends.append(time.perf_counter())
            epoch_seconds.append(event.seconds)
    between = [later - earlier for earlier, later in zip(ends, ends[1:])]
    return {"between": between, "epoch_seconds": epoch_seconds, "writer_seconds": writer_seconds, "hook_seconds": hook_seconds,
            "background_seconds": background_seconds, "ending_seconds": time.perf_counter() - ends[-1],
            "run_seconds": time.perf_counter() - started, "run": run}


def timed(function, seconds: list[float]):
    """`function`, appending the wall seconds of each call to `seconds`."""
    def wrapper(*args):
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            seconds.append(time.perf_counter() - started)
    return wrapper


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="zoo model (repeatable; default fast and lenet5)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not timed)")
    parser.add_argument("--repeats", type=int, default=4, help="runs of each side, alternated: without, with, without, ...")
    args = parser.parse_args(argv)
    models = args.model or ["fast", "lenet5"]

    from core.config.train_config import preset_config
    from core.data.mnist import load_mnist
    from core.data.splits import make_splits
    from core.training.compiled_models import CompiledModels, warm_up
    from core.runs.checkpoints import (
        CHECKPOINTS_DIR, MEGABYTE, budget_note, checkpoint_interval, epoch_folder_name, epochs_in, folder_bytes,
        kept_epochs,
    )

    # A run's map is written on a thread after it ends (core/runs/background_feature_files.py): it would overlap the
    # next run's epochs here, and it is no part of what a checkpoint costs.
    os.environ["MNIST_LAB_EMBEDDING_DIGITS"] = "0"
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    mnist = load_mnist()
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="checkpoint-overhead-") as folder:
        runs_dir = Path(folder)
        for model in models:
            base = preset_config(model, epochs=args.epochs, train_size=0, patience=0, target_accuracy=0.0)
            sides = {"without": base.replace(checkpoint_budget_mb=0.0, keep_best_epoch=False), "with": base}
            runs = {"without": [], "with": []}
            compiled = CompiledModels(capacity=len(sides))  # as a worker: steps traced before the first run
            for config in sides.values():
                warm_up(compiled, config, make_splits(mnist, config))
            for repeat in range(args.repeats):
                for side, config in sides.items():
                    runs[side].append(timed_run(config, mnist, runs_dir, f"{model}-{side}-{repeat}", compiled))
            between = {side: [s for run in done for s in run["between"]] for side, done in runs.items()}
            plain, checkpointed = statistics.mean(between["without"]), statistics.mean(between["with"])
            writer = [s for run in runs["with"] for s in run["writer_seconds"]]
            background = [s for run in runs["with"] for s in run["background_seconds"]]
            writer_share = sum(writer) / sum(s for run in runs["with"] for s in run["epoch_seconds"])
            hooks = {side: sum(s for run in done for s in run["hook_seconds"] + run["writer_seconds"])
                     / sum(s for run in done for s in run["epoch_seconds"]) for side, done in runs.items()}
            # The ratio's noise: the standard error of each side's mean epoch, relative to the plain one.
            noise = (statistics.stdev(between["without"]) ** 2 / len(between["without"])
                     + statistics.stdev(between["with"]) ** 2 / len(between["with"])) ** 0.5 / plain \
                if min(len(between["without"]), len(between["with"])) > 1 else float("nan")
            whole = {side: statistics.mean(run["run_seconds"] for run in done) for side, done in runs.items()}
            ending = {side: statistics.mean(run["ending_seconds"] for run in done) for side, done in runs.items()}
            checkpoints = runs_dir / f"{model}-with-0" / CHECKPOINTS_DIR
            sizes[model] = max(folder_bytes(checkpoints / epoch_folder_name(e)) for e in epochs_in(checkpoints))
            print(f"{model}: {len(mnist.y_train):,} train images, {base.epochs} epochs a run, {args.repeats} runs a side "
                  f"alternated, timed epochs 2..{base.epochs}: {plain:.2f} s/epoch without checkpoints, "
                  f"{checkpointed:.2f} s/epoch with (the training thread spends {statistics.mean(writer):.3f} s a "
                  f"checkpoint on it, a thread of its own {statistics.mean(background):.3f} s writing it while the next "
                  f"epoch trains; {sizes[model] / MEGABYTE:.2f} MB each); load average now {os.getloadavg()[0]:.2f}",
                  flush=True)
            print(f"{model}: whole run (construction to its ending) {whole['without']:.2f} s without, {whole['with']:.2f} s "
                  f"with; last epoch's end -> ending {ending['without']:.2f} s without, {ending['with']:.2f} s with",
                  flush=True)
            print(f"{model}: the training thread's checkpoint and TensorBoard histograms took "
                  f"{hooks['with']:.2%} of the epochs' time with checkpoints, {hooks['without']:.2%} without; the side-by-side "
                  f"ratio's standard error is {noise:.2%} (epochs: {', '.join(f'{s:.2f}' for s in between['without'])} "
                  f"without; {', '.join(f'{s:.2f}' for s in between['with'])} with)", flush=True)
            print(f"{model} checkpoint_overhead={checkpointed / plain - 1:.4f} (+/- {noise:.4f}) writer_share={writer_share:.4f} "
                  f"hook_share={hooks['with'] - hooks['without']:.4f} run_overhead={whole['with'] / whole['without'] - 1:.4f}",
                  flush=True)
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
