"""A training's peak memory and epoch time, measured, beside what the server estimates before Start.

Each config trains in a fresh process that does what a local worker does before its first job
(imports TensorFlow, loads MNIST), then records one run (`core.runs.recorded_run.RecordedRun`,
as the worker does) into a temporary runs directory. Printed per config: the process's resident
size before the run (VmRSS) and its peak during it (VmHWM, from /proc/self/status), the estimate
of `core.training.memory_estimate.estimate_peak_memory`, each epoch's wall seconds and CPU seconds
(all threads of the process), and the estimate of `core.training.epoch_estimate.estimate_epoch`
(its baseline: no saved runs consulted). The baselines were fitted in CPU seconds, which on a
shared machine stay close to what an idle one takes in wall time (`bench/epoch_throughput.py`);
wall seconds there measure the neighbours too, so the estimate is compared with the last epoch's
CPU seconds (the first also traces the graph). Also the
idle size of a real warm worker (`LocalExecutor`, its default warm models traced), which is what
a job starts from on the server.

Usage:
    .venv/bin/python bench/job_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared_machine import cpu_model  # noqa: E402

CONFIGS = [  # (label, TrainConfig overrides on the model's preset); the first ones are quick
    ("mlp preset, 10k images", dict(model="mlp", epochs=2, train_size=10000)),
    ("fast preset, 10k images", dict(model="fast", epochs=2, train_size=10000)),
    ("cnn batch 1000, 5k images", dict(model="cnn", epochs=2, train_size=5000)),
    ("lenet5 batch 32, 5k images", dict(model="lenet5", epochs=2, train_size=5000)),
    ("softmax full batch, all images", dict(model="softmax", epochs=2)),
    ("mlp 1024 units, full batch, 10k images", dict(model="mlp", epochs=2, hidden_units=1024, batch_size=0, train_size=10000)),
    ("mlp 4096 units, full batch, 5k images", dict(model="mlp", epochs=2, hidden_units=4096, batch_size=0, train_size=5000)),
    ("mlp 4096 units, full batch, 15k images", dict(model="mlp", epochs=2, hidden_units=4096, batch_size=0, train_size=15000)),
    ("cnn full batch, 5k images", dict(model="cnn", epochs=2, batch_size=0, train_size=5000)),
    ("mlp 4096 units, full batch, all images (issue 17)", dict(model="mlp", epochs=2, hidden_units=4096, batch_size=0)),
]
QUICK = 6  # `--quick` runs the first this many


def cpu_flags() -> str:
    """The vector extensions TensorFlow's kernels depend on, as /proc/cpuinfo lists them."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "flags unknown"
    return " ".join(flag for flag in ("avx2", "fma", "avx512f", "avx512_vnni", "amx_tile") if flag in flags) or "no AVX2"


def status_megabytes(field: str, pid: str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure_one(overrides: dict) -> dict:
    """In this (fresh) process: warm up as a worker does, record one run, return the figures."""
    import core  # noqa: F401
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    from core.config.train_config import preset_config
    from core.data.mnist import load_mnist
    from core.runs.recorded_run import RecordedRun
    from core.training.events import EpochEnd

    mnist = load_mnist(os.environ.get("MNIST_PATH"))
    config = preset_config(overrides.pop("model"), **overrides)
    idle = status_megabytes("VmRSS")
    seconds, cpu_seconds = [], []
    with tempfile.TemporaryDirectory() as runs_dir:
        cpu_started = time.process_time()
        for event in RecordedRun(config, runs_dir=runs_dir, name="bench", mnist=mnist):
            if isinstance(event, EpochEnd):
                seconds.append(event.seconds)
                cpu_seconds.append(time.process_time() - cpu_started)  # all threads; the first epoch also traces
                cpu_started = time.process_time()
    return {"idle_mb": idle, "peak_mb": status_megabytes("VmHWM"), "epoch_seconds": seconds, "epoch_cpu_seconds": cpu_seconds}


def warm_worker_megabytes() -> float:
    from core.jobs.local_executor import LocalExecutor

    executor = LocalExecutor(workers=1, mnist_path=os.environ.get("MNIST_PATH"))
    try:
        executor.wait_until_warm(600)
        time.sleep(15)  # the default warm models trace after "ready"
        return status_megabytes("VmRSS", str(executor.worker_pids()[0]))
    finally:
        executor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK} configs")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one config as JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(json.loads(args.one))))
        return
    from core.config.train_config import preset_config
    from core.training.epoch_estimate import estimate_epoch
    from core.training.memory_estimate import estimate_peak_memory

    def say(line: str) -> None:
        print(line, flush=True)

    say(f"CPU: {cpu_model()} ({cpu_flags()}; {os.cpu_count()} cores); load average at start: "
        + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    say(f"a warm local worker, idle (its default warm models traced): {warm_worker_megabytes():.0f} MiB")
    say(f"{'config':<50} {'idle':>6} {'peak':>6} {'est.':>6} {'est/peak':>8}   {'epoch wall s':<14} {'epoch CPU s':<14} "
        f"{'est. s':>7} {'est/CPU':>7}  load")
    for label, overrides in CONFIGS[: QUICK if args.quick else None]:
        model = overrides["model"]
        config = preset_config(model, **{k: v for k, v in overrides.items() if k != "model"})
        result = subprocess.run([sys.executable, __file__, "--one", json.dumps(overrides)], capture_output=True, text=True,
                                cwd=ROOT)
        if result.returncode:
            say(f"{label:<50} failed: {result.stderr.strip().splitlines()[-1:]}")
            continue
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        estimate = estimate_peak_memory(config)
        epoch = estimate_epoch(config).seconds
        seconds, cpu_seconds = figures["epoch_seconds"], figures["epoch_cpu_seconds"]
        say(f"{label:<50} {figures['idle_mb']:>6.0f} {figures['peak_mb']:>6.0f} {estimate.peak_mb:>6.0f} "
            f"{estimate.peak_mb / figures['peak_mb']:>8.2f}   {' '.join(f'{s:.1f}' for s in seconds):<14} "
            f"{' '.join(f'{s:.1f}' for s in cpu_seconds):<14} {epoch:>7.1f} {epoch / cpu_seconds[-1]:>7.2f}  "
            f"{os.getloadavg()[0]:.1f}")
    say(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
