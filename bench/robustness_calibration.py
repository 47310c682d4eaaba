"""Robustness and calibration figures: the augmented `fast` run against the plain one, ECE before and after temperature.

1. Trains the `fast` preset twice on the same training images (all 60,000 unless `--train-size`),
   once plain and once with random rotations (`--augment-rotation` degrees, the Train form's
   Augmentation tab), both through `core.runs.recorded_run.RecordedRun` (the dashboard's path),
   then sweeps both (`core.robustness.sweep.sweep_run`: the 10,000 test digits at every level of
   every perturbation, with the runs' NumPy models) and prints their accuracy at rotation 30°
   (and -30°). The target: the augmented run beats the plain one at 30°. The plain run's sweep
   is timed (wall seconds, the report's own path, MNIST already loaded); the target is ≤ 30 s.
2. For each write-up preset in `--presets`, trained on `--preset-train-size` images for at most
   `--preset-epochs` epochs (small data, to be affordable here: the figures are those of these
   small runs, not of the write-ups' full runs), prints the ECE before and after temperature
   scaling (`core.calibration.run_calibration.calibrate_run`), the temperature and the accuracy
   before and after (the same: a temperature never changes the top class).

The CPU model and the load average are printed before and after; the output goes to `--out` too.

Usage:
    PYTHONPATH=. .venv/bin/python bench/robustness_calibration.py [--train-size 60000] [--augment-rotation 20]
        [--presets softmax,mlp,cnn,lenet5,cnn_deep,fast] [--preset-train-size 6000] [--preset-epochs 2]
        [--out bench/results/robustness_calibration.txt]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core  # noqa: E402,F401  (oneDNN on before TensorFlow is imported)
from shared_machine import cpu_model, load_line, Transcript  # noqa: E402
from core.calibration.run_calibration import calibrate_run  # noqa: E402
from core.config.train_config import preset_config  # noqa: E402
from core.data.mnist import load_mnist  # noqa: E402
from core.robustness.sweep import sweep_run  # noqa: E402
from core.runs.recorded_run import RecordedRun  # noqa: E402
from core.runs.store import RunError  # noqa: E402

SWEEP_TARGET_SECONDS = 30.0
# epochs a preset trains here at most: softmax and numpy_logreg take full-batch steps (one an epoch), the rest minibatches
FULL_BATCH_EPOCHS = 100


def train(config, runs_dir: Path, name: str, mnist) -> tuple[str, float, float]:
    started = time.perf_counter()
    done = list(RecordedRun(config, runs_dir=runs_dir, name=name, mnist=mnist))[-1]
    return name, done.test_accuracy, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=0, help="training images of the two fast runs (0: all 60,000)")
    parser.add_argument("--augment-rotation", type=float, default=20.0, help="the augmented run's random rotation, degrees")
    parser.add_argument("--presets", default="numpy_logreg,softmax,mlp,cnn,lenet5,cnn_deep",
                        help="write-up presets whose calibration is measured")
    parser.add_argument("--preset-train-size", type=int, default=6000)
    parser.add_argument("--preset-epochs", type=int, default=2, help="epochs at most per minibatch preset")
    parser.add_argument("--out", default="bench/results/robustness_calibration.txt")
    args = parser.parse_args()
    transcript = Transcript()
    say = transcript.say

    say(f"cpu: {cpu_model()}, {os.cpu_count()} CPU(s)")
    say(load_line("at start"))
    mnist = load_mnist()
    runs_dir = Path(tempfile.mkdtemp(prefix="robustness-bench-")) / "runs"

    say("\n## Robustness: fast, plain against augmented")
    size = args.train_size or 60_000
    plain_config = preset_config("fast", train_size=args.train_size)
    augmented_config = preset_config("fast", train_size=args.train_size, augment_rotation=args.augment_rotation)
    runs = {}
    for label, config in (("plain", plain_config), ("augmented", augmented_config)):
        name, accuracy, seconds = train(config, runs_dir, f"fast-{label}", mnist)
        runs[label] = name
        say(f"{label:<10} fast, {size:,} images, 1 epoch"
            + (f", augment_rotation={args.augment_rotation:g}" if label == "augmented" else "")
            + f": test accuracy {accuracy:.4f} (trained in {seconds:.0f} s)")
    say(load_line("before the timed sweep"))
    started = time.perf_counter()
    plain = sweep_run(runs["plain"], runs_dir, mnist)
    sweep_seconds = time.perf_counter() - started
    say(f"sweep of the plain run: {sweep_seconds:.1f} s for {len(plain['results'])} levels x {plain['images']:,} test digits "
        f"({'met' if sweep_seconds <= SWEEP_TARGET_SECONDS else 'NOT met'}: target <= {SWEEP_TARGET_SECONDS:g} s)")
    say(load_line("after the timed sweep"))
    augmented = sweep_run(runs["augmented"], runs_dir, mnist)
    table = {label: {(r["perturbation"], r["level"]): r["accuracy"] for r in swept["results"]}
             for label, swept in (("plain", plain), ("augmented", augmented))}
    say(f"{'perturbation':<12} {'level':>6} {'plain':>8} {'augmented':>10}")
    for key in table["plain"]:
        say(f"{key[0]:<12} {key[1]:>6g} {table['plain'][key]:>8.4f} {table['augmented'][key]:>10.4f}")
    at_30 = table["plain"][("rotation", 30)], table["augmented"][("rotation", 30)]
    say(f"rotation 30°: plain {at_30[0]:.4f}, augmented {at_30[1]:.4f} -> "
        + ("augmented beats plain (met)" if at_30[1] > at_30[0] else "augmented does NOT beat plain"))
    for label in ("plain", "augmented"):
        identity = table[label][("rotation", 0)]
        say(f"{label}: sweep at level 0 {identity:.4f} == run's test accuracy {plain['test_accuracy'] if label == 'plain' else augmented['test_accuracy']:.4f}")

    say(f"\n## Calibration: ECE before and after temperature scaling (15 bins; presets on {args.preset_train_size:,} "
        f"training images, at most {args.preset_epochs} epochs, {FULL_BATCH_EPOCHS} for full-batch ones)")
    say(f"{'model':<13} {'accuracy':>8} {'after T':>8} {'ECE':>7} {'after T':>8} {'T':>6}  fitted on / measured on")
    measured = [(model, None) for model in args.presets.split(",") if model]
    measured += [("fast", runs["plain"]), ("fast+rot", runs["augmented"])]
    for model, run_name in measured:
        try:
            if run_name is None:
                full_batch = preset_config(model).batch_size == 0
                epochs = min(preset_config(model).epochs, FULL_BATCH_EPOCHS if full_batch else args.preset_epochs)
                config = preset_config(model, train_size=args.preset_train_size, epochs=epochs)
                run_name, _, _ = train(config, runs_dir, f"preset-{model}", mnist)
            result = calibrate_run(run_name, runs_dir, mnist)
        except RunError as error:
            say(f"{model:<13} not measured: {error}")
            continue
        say(f"{model:<13} {result['accuracy']:>8.4f} {result['accuracy_after_temperature']:>8.4f} {result['ece']:>7.4f} "
            f"{result['ece_after_temperature']:>8.4f} {result['temperature']:>6.3f}  {result['fitted_on']} / {result['evaluated_on']}")
    say(load_line("at the end"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    transcript.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
