"""Wall time from the start of training to a model with ≥ 99.0% MNIST test accuracy, on this CPU.

For the `fast` zoo model, over several seeds, and for comparison the `cnn` and `lenet5` presets:
each run trains through `core.training.trainer.Trainer` (the streaming trainer the dashboard and the CLI
use) with `validation='test'`, so Keras scores the 10,000 test images at the end of every epoch;
the time to 99% is the wall time from creating the trainer (model build, graph tracing and the
test-set evaluations included; TensorFlow's import and MNIST's loading excluded) to the end of
the first epoch whose test accuracy is ≥ 0.99. Each run is a fresh Python process, so none
profits from another's warm TensorFlow. The baselines are capped at `--max-seconds`.

Also timed: what a user feels, `python -m core train --model fast` from process start to its
exit with a saved model (TensorFlow's import, MNIST's loading, training and saving included).

Usage:
    PYTHONPATH=. .venv/bin/python bench/time_to_99.py [--seeds 0,1,2,3,4,5,6,7,8,9] [--max-seconds 600]
        [--skip-baselines] [--pause-pid PID ...] [--out bench/results/time_to_99.txt]

`--pause-pid` stops those (your own, background) processes with SIGSTOP for the duration and
resumes them with SIGCONT at the end, so they do not share the CPU with the timed runs.
The last line printed is `median_seconds=<value> reached=<k>/<n>` for the `fast` seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shared_machine import Transcript, add_pause_argument, cpu_ticks, paused, paused_line, load_text, share_of_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_ACCURACY = 0.99


def time_to_target(model: str, seed: int, max_seconds: float) -> dict:
    """Train `model`'s preset (with `validation='test'`) and time it to the first epoch ≥ 99% test.

    Stops the run once the target is reached or `max_seconds` have passed.
    """
    import core  # noqa: F401  (oneDNN on, as in the product)
    from core.config.train_config import from_dict
    from core.data.mnist import load_mnist
    from core.data.splits import make_splits
    from core.config.zoo import SPECS

    config = from_dict({"model": model, **SPECS[model].preset, "validation": "test", "seed": seed})
    splits = make_splits(load_mnist(), config)
    import keras  # noqa: F401  (TensorFlow's import, 5-9 s here, stays off the clock: the trainer imports it lazily)
    load = os.getloadavg()[0]
    started, cpu_started, ticks = time.perf_counter(), time.process_time(), cpu_ticks()
    from core.training.trainer import Trainer

    trainer = Trainer(config, splits)
    reached = None
    epochs = []
    for event in trainer:
        elapsed = time.perf_counter() - started
        if event.event == "epoch":
            epochs.append({"epoch": event.epoch, "seconds": round(elapsed, 2), "test_accuracy": event.val_accuracy})
            if reached is None and event.val_accuracy >= TARGET_ACCURACY:
                reached = elapsed
                if event.epoch < config.epochs:
                    trainer.stop()
        if reached is None and elapsed > max_seconds:
            trainer.stop()
    ticks_after = cpu_ticks()
    return {
        "model": model,
        "seed": seed,
        "seconds_to_99": reached,
        "epochs": epochs,
        "total_seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu_started, 2),  # all threads of this process
        # a virtual machine's host can take CPU time from it ("steal"); idle = cores this run left unused
        "steal_share": round(share_of_run(ticks, ticks_after, "steal"), 3),
        "idle_share": round(share_of_run(ticks, ticks_after, "idle"), 3),
        "max_seconds": max_seconds,
        "config": {k: v for k, v in config.to_dict().items() if k in SPECS[model].preset or k == "validation"},
        "loadavg_1min_at_start": round(load, 2),
    }


def run_child(model: str, seed: int, max_seconds: float) -> dict:
    """`time_to_target` in a fresh Python process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", model, str(seed), str(max_seconds)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"{model} seed {seed} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def time_cli(seed: int) -> dict:
    """`python -m core train --model fast` in a subprocess: process start to exit, model saved."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    with tempfile.TemporaryDirectory(prefix="time_to_99_runs_") as runs_dir:
        command = [sys.executable, "-m", "core", "train", "--model", "fast", "--seed", str(seed),
                   "--runs-dir", runs_dir, "--json"]
        started = time.perf_counter()
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
        seconds = time.perf_counter() - started
        if completed.returncode != 0:
            raise RuntimeError(f"the CLI failed:\n{completed.stderr[-3000:]}")
        done = json.loads(completed.stdout.strip().splitlines()[-1])
        saved = (Path(done["run_dir"]) / "model.keras").exists()
    return {"seconds": seconds, "test_accuracy": done["test_accuracy"], "model_saved": saved,
            "command": " ".join(command[1:4] + command[4:8])}


def describe(result: dict) -> str:
    trace = ", ".join(f"ep{e['epoch']} {e['seconds']:.1f}s {e['test_accuracy']:.4f}" for e in result["epochs"])
    if result["seconds_to_99"] is None:
        head = f"not reached within {result['total_seconds']:.0f} s"
        if result["total_seconds"] < result["max_seconds"]:
            head = f"not reached in {len(result['epochs'])} epoch(s) ({result['total_seconds']:.1f} s)"
    else:
        head = f"{result['seconds_to_99']:.1f} s"
    return (f"{result['model']:<7} seed {result['seed']}: {head}  [{trace}]  "
            f"(process CPU {result['cpu_seconds']:.1f} s; machine idle {result['idle_share']:.0%}, "
            f"stolen by the host {result['steal_share']:.0%}; load {result['loadavg_1min_at_start']:.2f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Wall time to ≥ 99% MNIST test accuracy.")
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9", help="seeds of the `fast` runs (10: five can flatter the reach rate)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="cap for each cnn / lenet5 run")
    parser.add_argument("--skip-baselines", action="store_true", help="time only `fast` (and the CLI)")
    parser.add_argument("--skip-cli", action="store_true", help="do not time `python -m core train`")
    add_pause_argument(parser)
    parser.add_argument("--out", help="also write everything printed to this file")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # model seed max_seconds
    args = parser.parse_args(argv)
    if args.child:
        model, seed, max_seconds = args.child
        print(json.dumps(time_to_target(model, int(seed), float(max_seconds))))
        return 0

    transcript = Transcript()
    say = transcript.say

    with paused(args.pause_pid):
        say(f"time to >= {TARGET_ACCURACY:.1%} MNIST test accuracy, {os.cpu_count()} CPU cores, "
            f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '1 (set by core)')}")
        say(f"load average at start: {load_text()}")
        if args.pause_pid:
            say(paused_line(args.pause_pid))
        say("machine idle / stolen: shares of both cores' time during the run that sat unused, or that the "
            "virtual machine's host took for other guests (/proc/stat); a high idle share means TensorFlow "
            "kept only one core busy")
        say("clock: from creating core.training.trainer.Trainer (model build, tracing, per-epoch test evaluation "
            "included) to the end of the first epoch with test accuracy >= 0.99; one fresh process per run")
        say()
        seeds = [int(s) for s in args.seeds.split(",")]
        fast = []
        for seed in seeds:
            result = run_child("fast", seed, args.max_seconds)
            fast.append(result)
            say(describe(result))
        times = [r["seconds_to_99"] if r["seconds_to_99"] is not None else math.inf for r in fast]
        reached = sum(math.isfinite(t) for t in times)
        median = statistics.median(times)
        say(f"fast preset: {json.dumps(fast[0]['config'])}")
        say()
        baselines = {}
        if not args.skip_baselines:
            for model in ("lenet5", "cnn"):
                baselines[model] = run_child(model, 0, args.max_seconds)
                say(describe(baselines[model]))
                say(f"{model} preset: {json.dumps(baselines[model]['config'])}")
            for model, result in baselines.items():
                if result["seconds_to_99"] is None:
                    say(f"speed-up over {model}: > {result['total_seconds'] / median:.0f}x "
                        f"({model} did not reach 99% within {result['total_seconds']:.0f} s)")
                else:
                    say(f"speed-up over {model}: {result['seconds_to_99'] / median:.1f}x "
                        f"({result['seconds_to_99']:.1f} s vs median {median:.1f} s)")
            say()
        if not args.skip_cli:
            cli = time_cli(seeds[0])
            verdict = ">= 99%" if cli["test_accuracy"] >= TARGET_ACCURACY else "BELOW 99%"
            say(f"end to end: `{cli['command']}` process start to exit: {cli['seconds']:.1f} s, "
                f"test_accuracy {cli['test_accuracy']:.4f} ({verdict}), model saved: {cli['model_saved']}")
        say(f"load average at end: {load_text()}")
        say(f"median_seconds={median:.2f} reached={reached}/{len(seeds)}")
    if args.out:
        transcript.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
