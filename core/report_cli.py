"""`python -m core robustness --run NAME` and `python -m core calibration --run NAME`: a run's report card.

    python -m core robustness --run fast-20261206-... --json
    {"perturbation": "rotation", "level": -45, "accuracy": 0.2871}
    ...
    python -m core calibration --run fast-20261206-... --json
    {"ece": 0.0061, "ece_after_temperature": 0.0032, "temperature": 1.31}

Both use the run's cached result when it is up to date (`--recompute` to compute anew); neither
imports TensorFlow. `core.cli` adds the subcommands and runs them.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.calibration.run_calibration import calibrate_run
from core.data.mnist import load_mnist
from core.robustness.perturbations import PERTURBATIONS
from core.robustness.sweep import sweep_run


def add_report_parsers(commands) -> None:
    """Add the `robustness` and `calibration` subcommands to `core.cli`'s subparsers."""
    robustness = commands.add_parser("robustness", help="a run's test accuracy as its digits are rotated, shifted, scaled, thinned, noised, faded")
    calibration = commands.add_parser("calibration", help="a run's expected calibration error, before and after temperature scaling")
    for parser in (robustness, calibration):
        parser.add_argument("--run", required=True, help="a finished run's name (see `python -m core runs`)")
        parser.add_argument("--runs-dir", help="where runs are saved (default: $MNIST_LAB_RUNS_DIR or runs/)")
        parser.add_argument("--mnist-path", help="an mnist.npz to use (default: $MNIST_PATH, else data/mnist.npz, else Keras's cache)")
        parser.add_argument("--recompute", action="store_true", help="compute anew even when the run's cached result is up to date")
    robustness.add_argument("--json", action="store_true", help='one JSON line per perturbation and level: {"perturbation", "level", "accuracy"}')
    calibration.add_argument("--json", action="store_true", help='one JSON line: {"ece", "ece_after_temperature", "temperature"}')


def robustness_command(args: argparse.Namespace) -> int:
    mnist = load_mnist(args.mnist_path)

    def on_level(done: int, total: int, result: dict) -> None:
        if not args.json:
            print(f"\r{done}/{total} levels", end="", file=sys.stderr, flush=True)

    swept = sweep_run(args.run, args.runs_dir, mnist, on_level=on_level, recompute=args.recompute)
    if args.json:
        for result in swept["results"]:
            print(json.dumps({"perturbation": result["perturbation"], "level": result["level"], "accuracy": result["accuracy"]}))
        return 0
    print(file=sys.stderr)
    test = "" if swept.get("test_accuracy") is None else f", test accuracy {swept['test_accuracy']:.4f}"
    print(f"run {args.run}: {swept['images']:,} test digits{test}, swept in {swept['seconds']:.1f}s")
    for result in swept["results"]:
        unit = PERTURBATIONS[result["perturbation"]].unit
        print(f"{result['perturbation']:<10} {result['level']:>6g} {unit:<8} accuracy {result['accuracy']:.4f}")
    return 0


def calibration_command(args: argparse.Namespace) -> int:
    result = calibrate_run(args.run, args.runs_dir, load_mnist(args.mnist_path), recompute=args.recompute)
    if args.json:
        print(json.dumps({"ece": result["ece"], "ece_after_temperature": result["ece_after_temperature"],
                          "temperature": result["temperature"]}))
        return 0
    print(f"run {args.run}: accuracy {result['accuracy']:.4f} (after temperature {result['accuracy_after_temperature']:.4f})")
    print(f"ECE {result['ece']:.4f} -> {result['ece_after_temperature']:.4f} with temperature {result['temperature']:.3f}, "
          f"fitted on {result['fitted_on']}, measured on {result['evaluated_on']}")
    return 0
