"""Where a robustness sweep's time goes: perturbing the digits (scipy.ndimage) against evaluating them (the NumPy forward pass).

For one run's NumPy model and MNIST's 10,000 test digits, as `core.robustness.sweep` runs them:

1. each level the sweep evaluates (the identity once), one after the other: its perturbation's and
   its evaluation's seconds (CPU of the thread, which holds all the work on one BLAS thread, and
   wall), and the totals per perturbation and overall;
2. one evaluation of the 10,000 digits cut by layer (`NumpyModel.predict`'s batches on one BLAS
   thread, as it runs them; each layer's step timed and summed), best of `--repeat`;
3. the sweep itself as the report process runs it (`core.robustness.sweep.robustness_sweep`,
   MNIST already loaded), best of `--repeat`.

The CPU model and the load average are printed before and after (the machine is shared: compare
the load before comparing times); the output goes to `--out` too when given.

Usage:
    PYTHONPATH=. .venv/bin/python bench/robustness_sweep_profile.py --run NAME [--runs-dir DIR] [--repeat 2]
        [--out bench/results/robustness_sweep_profile.txt]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from shared_machine import cpu_model, load_line, Transcript  # noqa: E402
from core.data.mnist import load_mnist  # noqa: E402
from core.data.splits import to_model_input  # noqa: E402
from core.models.blas_threads import one_blas_thread  # noqa: E402
from core.models.numpy_model import PREDICT_BATCH_SIZE  # noqa: E402
from core.robustness.perturbations import PERTURBATIONS  # noqa: E402
from core.robustness.sweep import accuracy_of, robustness_sweep  # noqa: E402
from core.runs.store import load_numpy_model  # noqa: E402


def layer_seconds(model, x: np.ndarray, batch_size: int) -> list[float]:
    """Seconds of this thread's CPU each layer's step took over one evaluation of `x`, summed over the batches."""
    totals = [0.0] * len(model.layers)
    for start in range(0, len(x), batch_size):
        h = np.asarray(x[start: start + batch_size], dtype=np.float32)
        for index, step in enumerate(model._steps):
            began = time.thread_time()
            h = step(h)
            totals[index] += time.thread_time() - began
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished run with a NumPy model (e.g. a `fast` run)")
    parser.add_argument("--runs-dir", help="where runs are saved (default: $MNIST_LAB_RUNS_DIR or runs/)")
    parser.add_argument("--repeat", type=int, default=2, help="timings of parts 2 and 3 (the best is kept)")
    parser.add_argument("--out", help="also write the output to this file")
    args = parser.parse_args()
    transcript = Transcript()
    say = transcript.say

    say(f"cpu: {cpu_model()}, {os.cpu_count()} CPU(s)")
    say(load_line("at start"))
    mnist = load_mnist()
    model = load_numpy_model(args.run, args.runs_dir)
    digits = to_model_input(mnist.x_test)[..., 0]
    say(f"run {args.run}: layers {' -> '.join(layer.class_name for layer in model.layers)}")

    say("\n## 1. Each level, one after the other: perturbing vs evaluating (seconds of this thread's CPU, and wall)")
    say(f"{'perturbation':<12} {'level':>6} {'perturb':>8} {'evaluate':>9} {'(wall)':>7} {'(wall)':>7} {'accuracy':>9}")
    totals = np.zeros(4)
    identity_done = False
    for sweep in PERTURBATIONS.values():
        sums = np.zeros(4)
        for level in sweep.levels:
            if level == sweep.identity and identity_done:
                continue
            began, cpu_began = time.perf_counter(), time.thread_time()
            changed = sweep.apply(digits, level)
            perturbed, cpu_perturbed = time.perf_counter(), time.thread_time()
            accuracy = accuracy_of(model, changed, mnist.y_test)  # one BLAS thread: all its CPU is this thread's
            evaluated, cpu_evaluated = time.perf_counter(), time.thread_time()
            identity_done |= level == sweep.identity
            seconds = np.array([cpu_perturbed - cpu_began, cpu_evaluated - cpu_perturbed, perturbed - began, evaluated - perturbed])
            sums += seconds
            say(f"{sweep.name:<12} {level:>6g} {seconds[0]:>8.3f} {seconds[1]:>9.3f} {seconds[2]:>7.3f} {seconds[3]:>7.3f} {accuracy:>9.4f}")
        say(f"{sweep.name:<12} {'all':>6} {sums[0]:>8.3f} {sums[1]:>9.3f} {sums[2]:>7.3f} {sums[3]:>7.3f}")
        totals += sums
    say(f"{'total':<12} {'':>6} {totals[0]:>8.3f} {totals[1]:>9.3f} {totals[2]:>7.3f} {totals[3]:>7.3f}")

    say(f"\n## 2. One evaluation of {len(digits):,} digits by layer (batches of {PREDICT_BATCH_SIZE}, one BLAS thread, CPU seconds, best of {args.repeat})")
    x = digits[..., None]
    with one_blas_thread():  # as `predict` runs
        runs = [layer_seconds(model, x, PREDICT_BATCH_SIZE) for _ in range(args.repeat)]
    best = min(runs, key=sum)
    for layer, seconds in zip(model.layers, best):
        say(f"{layer.class_name:<20} {layer.name:<22} {seconds:>7.3f} s")
    say(f"{'all layers':<43} {sum(best):>7.3f} s")

    say(f"\n## 3. The sweep as the report runs it (robustness_sweep, MNIST loaded; best of {args.repeat})")
    say(load_line("before"))
    seconds = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        cpu_began = time.process_time()
        results, _ = robustness_sweep(model, mnist.x_test, mnist.y_test)
        seconds.append((time.perf_counter() - began, time.process_time() - cpu_began))
    wall, cpu = min(seconds)
    say(f"sweep: {wall:.1f} s wall, {cpu:.1f} s CPU, {len(results)} levels x {len(digits):,} digits "
        f"(all tries: {', '.join(f'{w:.1f}' for w, _ in seconds)} s)")
    say(load_line("at the end"))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        transcript.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
