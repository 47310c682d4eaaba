"""`python -m core sweep`: an Optuna sweep of one model through an executor, from the command line.

    python -m core sweep --model fast --trials 8 --search learning_rate=1e-4:1e-1:log \\
        --search batch_size=64,128,256 --epochs 2 --train-size 6000 [--executor ray] --json

`--json` prints one JSON line per finished trial (`TrialResult.to_dict()`) and a last line
`{"event": "sweep_done", "best": {...}, ...}`. `core.cli` adds the subcommand and runs it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import fields

import optuna

from core.config.train_config import TrainConfig
from core.jobs.executors import EXECUTORS, make_executor
from core.jobs.sweep import COMPLETE, MAX_TRIALS, Sweep, SweepDone, TrialResult

EXECUTOR_FAILED = 2  # the executor could not start (Ray missing or unreachable): one line, like bad input


def add_sweep_parser(commands) -> None:
    """Add the `sweep` subcommand to `core.cli`'s subparsers."""
    sweep = commands.add_parser("sweep", help="search hyperparameters of one model with Optuna (pruning on)")
    sweep.add_argument("--model", required=True, help="the zoo model every trial trains")
    sweep.add_argument("--search", action="append", default=[], metavar="KNOB=LOW:HIGH[:log]|KNOB=A,B,C",
                       help="a range or a list for one knob; repeat for several (at least one)")
    sweep.add_argument("--trials", type=int, default=8, help=f"trials to run, 1 to {MAX_TRIALS} (default 8)")
    sweep.add_argument("--sampler-seed", type=int, default=0, help="seeds Optuna's TPE sampler (default 0)")
    sweep.add_argument("--no-pruning", dest="pruning", action="store_false",
                       help="run every trial to its end (default: stop trials below the median)")
    sweep.add_argument("--executor", choices=EXECUTORS, default=None,
                       help="where trials train (default: $MNIST_LAB_EXECUTOR, else local)")
    sweep.add_argument("--workers", type=int, default=None,
                       help="local worker processes, trials at once (default $MNIST_LAB_MAX_CONCURRENT_TRAININGS, else 1)")
    for field in fields(TrainConfig):
        if field.name != "model":
            sweep.add_argument("--" + field.name.replace("_", "-"), dest=field.name, default=None, metavar=field.type.upper(),
                               help="fixed for every trial (default: the model's preset)")
    sweep.add_argument("--name", help="the sweep id: the study's name and the runs' prefix (default: sweep-<model>-<time>)")
    sweep.add_argument("--runs-dir", help="where runs and sweeps.db are saved (default: $MNIST_LAB_RUNS_DIR or runs/)")
    sweep.add_argument("--mnist-path", help="an mnist.npz to use")
    sweep.add_argument("--json", action="store_true", help="one JSON line per finished trial and a last `sweep_done` line")


def describe_trial(result: TrialResult) -> str:
    """One line for a finished trial, e.g. `trial 3 PRUNED val_accuracy 0.4120 learning_rate=0.0003 ...`."""
    value = "" if result.value is None else f" val_accuracy {result.value:.4f}"
    params = " ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}" for name, value in result.params.items())
    return f"trial {result.number:>3} {result.state:<8}{value}  {params}  ({result.epochs} epochs, {result.seconds:.1f}s) {result.reason}"


def describe_done(done: SweepDone) -> str:
    counts = f"{done.complete} complete, {done.pruned} pruned, {done.failed} failed in {done.seconds:.1f}s"
    best = "no trial completed" if done.best is None else f"best: trial {done.best.number}, val_accuracy {done.best.value:.4f}, run {done.best.run_name}"
    return f"sweep {done.sweep_id}: {counts}; {best}\nstudy: {done.storage} (optuna-dashboard {done.storage})"


def sweep_command(args: argparse.Namespace) -> int:
    """Run the sweep `args` describe; raises `ConfigError` for bad input (before any training)."""
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name != "model" and getattr(args, f.name) is not None}
    # the input is checked here, before the executor's workers start
    sweep = Sweep(None, args.model, args.search, args.trials, overrides, args.runs_dir,
                  seed=args.sampler_seed, pruning=args.pruning, sweep_id=args.name, mnist_path=args.mnist_path)
    try:
        sweep.executor = make_executor(args.executor, slots=args.workers, mnist_path=args.mnist_path)
    except Exception as error:  # Ray not installed, no cluster to join: one line, not a traceback
        print(f"error: the {args.executor or 'default'} executor could not start: {error}", file=sys.stderr)
        return EXECUTOR_FAILED
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # this command prints its own line per trial
    for note in sweep.notes:
        print(f"note: {note}", file=sys.stderr)
    if not args.json:
        print(f"sweep {sweep.sweep_id}: {args.trials} trials of {args.model} on the {sweep.executor.name} executor "
              f"({sweep.executor.slots} at once), pruning {'on' if args.pruning else 'off'}; Ctrl-C stops", file=sys.stderr)
    previous = signal.signal(signal.SIGINT, lambda *_: (sweep.stop(), signal.signal(signal.SIGINT, previous)))
    try:
        for event in sweep:
            if args.json:
                print(json.dumps(event.to_dict()), flush=True)
            elif isinstance(event, TrialResult):
                print(describe_trial(event), flush=True)
            else:
                print(describe_done(event), flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        sweep.executor.close()
    return 0 if event.best is not None and event.best.state == COMPLETE else 1
