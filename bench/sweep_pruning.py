"""What pruning saves: the same 8-trial sweep with Optuna's median pruner on and off, side by side.

Both sides run the same search space with the same sampler seed, through one local executor (one
warm worker process, trials in turn), into throwaway runs directories. The time of a side is the
wall time of its whole sweep, from the study's creation to the `SweepDone` (every trial's model
build, training, test-set scoring and saving included). A one-trial warm-up sweep runs first and is
not counted (the worker's first trace of the model). With `--repeats 2` the order is on, off,
off, on, so neither side always runs on a warmer or cooler machine. The target: pruning on takes
at most 0.7x the time of pruning off.

The last line printed is `ratio=<pruning-on seconds / pruning-off seconds>` (sums over repeats).
On a machine shared with other work the figures are noisy: the CPU model, its flags and the load
average are printed before and after.

Usage:
    PYTHONPATH=. .venv/bin/python bench/sweep_pruning.py [--model fast] [--trials 8] [--epochs 6]
        [--train-size 6000] [--repeats 2] [--out bench/results/sweep_pruning.txt]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core  # noqa: E402,F401  (oneDNN on before any worker imports TensorFlow)
from shared_machine import add_pause_argument, cpu_ticks, load_line, paused, paused_line, share_of_run  # noqa: E402
from core.jobs.local_executor import LocalExecutor  # noqa: E402
from core.jobs.sweep import SweepDone, TrialResult, run_sweep  # noqa: E402

SEARCH = ["learning_rate=1e-4:1e-1:log", "batch_size=64,128,256"]
TARGET_RATIO = 0.7


def cpu_line() -> str:
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    shown = [flag for flag in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile") if flag in flags]
    return f"cpu: {model}, {os.cpu_count()} CPU(s), flags {' '.join(shown) or 'none of avx2/fma/avx512'}"


def one_sweep(executor, args, pruning: bool, trials: int, label: str, out) -> tuple[float, SweepDone]:
    runs_dir = tempfile.mkdtemp(prefix="sweep-bench-")
    overrides = dict(epochs=args.epochs, train_size=args.train_size, validation_size=args.validation_size)
    started = time.monotonic()
    done = None
    for event in run_sweep(executor, args.model, args.search or SEARCH, trials, overrides, runs_dir, seed=args.seed,
                           pruning=pruning, mnist_path=args.mnist_path):
        if isinstance(event, TrialResult):
            params = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.params.items())
            value = "-" if event.value is None else f"{event.value:.4f}"
            out(f"  {label} trial {event.number}: {event.state:<8} {event.epochs} epochs  val_accuracy {value}  "
                f"{event.seconds:5.1f}s  {params}")
        else:
            done = event
    return time.monotonic() - started, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train-size", type=int, default=6000)
    parser.add_argument("--validation-size", type=int, default=2000)
    parser.add_argument("--search", action="append", default=[], help=f"default: {' '.join(SEARCH)}")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed, the same on both sides")
    parser.add_argument("--repeats", type=int, default=2, help="1: on then off; 2: on, off, off, on")
    parser.add_argument("--mnist-path", default=os.environ.get("MNIST_PATH"))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sweep_pruning.txt"))
    add_pause_argument(parser)
    args = parser.parse_args()

    lines: list[str] = []

    def out(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out(f"{args.model}: {args.trials} trials x {args.epochs} epochs on {args.train_size} images (validation "
        f"{args.validation_size} held out), search {' '.join(args.search or SEARCH)}, sampler seed {args.seed}; "
        f"one local worker, trials in turn; {args.repeats} repeat(s)")
    out(cpu_line())
    out(load_line("before") + f"; {time.strftime('%Y-%m-%d %H:%M:%S')}")
    if args.pause_pid:
        out(paused_line(args.pause_pid))
    executor = LocalExecutor(workers=1, mnist_path=args.mnist_path)
    try:
        assert executor.wait_until_warm(600), "the worker never warmed up"
        warm_seconds, _ = one_sweep(executor, args, True, 1, "warm-up", lambda line: None)
        out(f"warm-up sweep (1 trial, not counted): {warm_seconds:.1f}s")
        order = [True, False, False, True][: 2 * args.repeats] if args.repeats <= 2 else [True, False] * args.repeats
        totals = {True: 0.0, False: 0.0}
        with paused(args.pause_pid):
            ticks = cpu_ticks()
            for pruning in order:
                label = "on " if pruning else "off"
                seconds, done = one_sweep(executor, args, pruning, args.trials, f"pruning {label}", out)
                totals[pruning] += seconds
                trained = "-" if done.best is None else f"{done.best.value:.4f}"
                out(f"pruning {label}: {seconds:.1f}s  ({done.complete} complete, {done.pruned} pruned, {done.failed} failed; "
                    f"best val_accuracy {trained})")
            after = cpu_ticks()
        out(f"CPU time during the timed sweeps: {share_of_run(ticks, after, 'idle'):.0%} idle, "
            f"{share_of_run(ticks, after, 'steal'):.0%} stolen by the host")
    finally:
        executor.close()
    ratio = totals[True] / totals[False]
    out(f"pruning on: {totals[True]:.1f}s, pruning off: {totals[False]:.1f}s (sums over {args.repeats} repeat(s))")
    out(load_line("after"))
    out(f"target: on/off <= {TARGET_RATIO} -> {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    out(f"ratio={ratio:.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
