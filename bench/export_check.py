"""The exported `fast` script against the lab's own run: time and test accuracy, one epoch on 60,000 images.

Trains the `fast` preset (seed 0) twice, each in a fresh process: once as the lab does (`python -m
core train --model fast`), once as its exported script in the clean virtual environment that holds
only the pinned TensorFlow (`.venv-export-check/`, made by `tests/test_export_clean_venv.py`). Prints
each one's wall time from process start to exit (TensorFlow's import, MNIST's loading, training and
scoring included), its epoch's seconds as Keras or the lab printed them, and its test accuracy;
then the CPU model and the load average beside them, since the machine is shared.

Usage:
    PYTHONPATH=. .venv/bin/python bench/export_check.py [--pause-pid PID ...] [--out bench/results/export_check.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shared_machine import add_pause_argument, cpu_model, cpu_ticks, paused, paused_line, share_of_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLEAN_PYTHON = ROOT / ".venv-export-check" / "bin" / "python"


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return seconds, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pause_argument(parser)
    parser.add_argument("--out", default=None, help="also write the lines printed to this file")
    args = parser.parse_args()
    if not CLEAN_PYTHON.exists():
        sys.exit(f"{CLEAN_PYTHON} is missing: run `.venv/bin/python -m pytest tests/test_export_clean_venv.py` once to make it")
    mnist = os.environ.get("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    lines = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder, paused(args.pause_pid):
        folder = Path(folder)
        runs = folder / "runs"
        before = cpu_ticks()
        lab_seconds, lab_out = timed([sys.executable, "-m", "core", "train", "--model", "fast", "--json", "--name", "fast-bench",
                                      "--runs-dir", str(runs), "--mnist-path", mnist], ROOT, dict(os.environ))
        lab_lines = [json.loads(line) for line in lab_out.splitlines()]
        lab_epoch = [line for line in lab_lines if line.get("event") == "epoch"][0]
        lab_done = lab_lines[-1]
        script = folder / "train_fast.py"
        subprocess.run([sys.executable, "-m", "core", "export", "--run", "fast-bench", "--runs-dir", str(runs),
                        "--out", str(script)], cwd=ROOT, check=True, capture_output=True)
        home = folder / "home"
        home.mkdir()
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "MNIST_PATH": mnist}
        script_seconds, script_out = timed([str(CLEAN_PYTHON), str(script)], folder, env)
        steal = share_of_run(before, cpu_ticks(), "steal")
    epoch_seconds = int(re.search(r"^469/469 - (\d+)s", script_out, re.MULTILINE).group(1))
    script_accuracy = float(re.search(r"test_accuracy: ([0-9.]+)", script_out).group(1))
    lines.append("fast preset, seed 0, 1 epoch on 60,000 images, each in a fresh process:")
    lines.append(f"  the lab (python -m core train):         {lab_seconds:5.1f} s in all, epoch {lab_epoch['seconds']:.1f} s, "
                 f"test accuracy {lab_done['test_accuracy']:.4f}")
    lines.append(f"  its exported script (TensorFlow alone): {script_seconds:5.1f} s in all, epoch {epoch_seconds} s (Keras rounds), "
                 f"test accuracy {script_accuracy:.4f}")
    load_after = os.getloadavg()
    lines.append(f"CPU: {cpu_model()}, {os.cpu_count()} cores; time stolen by the VM's host {steal:.1%}; load average "
                 f"(1/5/15 min) before {' '.join(f'{v:.2f}' for v in load_before)}, after {' '.join(f'{v:.2f}' for v in load_after)}")
    if args.pause_pid:
        lines.append(paused_line(args.pause_pid))
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
