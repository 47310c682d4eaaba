"""Server-side latency of the epoch scrubber: moving it on Inspect (filters, feature maps) and Errors
(confusion matrix, changed cells, gallery) re-renders the page for epoch k.

Run: `python bench/scrub_latency.py [--epochs 6] [--moves 60]`. Trains a real LeNet-5 run with a
checkpoint per epoch (TensorFlow, in this process) into a temporary runs directory, then measures
in a fresh interpreter that never imports TensorFlow: AppTest runs each page on that run and moves
its epoch slider to another kept epoch `--moves` times (a random walk, the same each time); each
move is timed from the slider's change to the page's finished run (the script's whole work plus
AppTest's own, so an upper bound on the server's). The first visit to an epoch reads its
checkpoint from disk (cold); later visits hit the page's caches (warm). Prints CPU and load, the
per-page figures, `tensorflow_imported=<bool>` and, last, `scrub_p95_s=<the worse page's p95 over
all moves, cold ones included>`. Target: ≤ 0.3 s, with no TensorFlow.
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
sys.path.insert(0, str(ROOT / "bench"))
from shared_machine import cpu_model  # noqa: E402
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
if SHARED_MNIST.is_file():
    os.environ.setdefault("MNIST_PATH", str(SHARED_MNIST))

PAGES = ("inspect", "errors")


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def train(runs_dir: Path, epochs: int, train_size: int) -> str:
    import core  # noqa: F401  (oneDNN on before TensorFlow is imported)
    from core.config.train_config import preset_config
    from core.runs.recorded_run import RecordedRun

    config = preset_config("lenet5", epochs=epochs, train_size=train_size, batch_size=64)
    for event in RecordedRun(config, runs_dir=runs_dir):
        pass
    if event.status != "completed":
        raise SystemExit(f"the run to scrub did not complete: {event}")
    return event.name


def measure(runs_dir: str, name: str, moves: int) -> dict:
    """In a fresh interpreter (no TensorFlow): time `moves` slider moves on each page."""
    import numpy as np

    os.environ["MNIST_LAB_RUNS_DIR"] = runs_dir
    from streamlit.testing.v1 import AppTest

    from core.runs.checkpoints import list_checkpoints

    epochs = list_checkpoints(runs_dir, name)
    rng = np.random.default_rng(0)
    results = {"epochs": epochs}
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=120).run()
        label = next(option for option in at.selectbox(key=f"{page}_model").options if option.startswith(name))
        at.selectbox(key=f"{page}_model").set_value(label).run()
        current, seen, cold, warm = epochs[-1], {epochs[-1]}, [], []
        for _ in range(moves):
            target = int(rng.choice([epoch for epoch in epochs if epoch != current]))
            started = time.perf_counter()
            at.select_slider(key=f"{page}_epoch").set_value(target).run()
            elapsed = time.perf_counter() - started
            if at.exception or at.error:
                raise SystemExit(f"{page} failed at epoch {target}: {at.exception or at.error}")
            expected = "Filters" if page == "inspect" else "Confusion matrix"
            if at.subheader[0].value != f"{expected} after epoch {target}":
                raise SystemExit(f"{page} shows {at.subheader[0].value!r} after moving to epoch {target}")
            (warm if target in seen else cold).append(elapsed)
            seen.add(target)
            current = target
        results[page] = {"cold": cold, "warm": warm}
    results["tensorflow_imported"] = "tensorflow" in sys.modules or "keras" in sys.modules
    return results


def seconds(values: list[float]) -> str:
    import numpy as np

    if not values:
        return "none"
    values = np.asarray(values)
    return (f"n={len(values):3d}  median {np.median(values):.3f} s  p95 {np.percentile(values, 95):.3f} s  "
            f"max {values.max():.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--measure", nargs=2, metavar=("RUNS_DIR", "RUN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure, args.moves)))
        return 0
    import numpy as np

    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores); {load_line()} at start")
    with tempfile.TemporaryDirectory(prefix="scrub-latency-") as runs_dir:
        started = time.perf_counter()
        name = train(Path(runs_dir), args.epochs, args.train_size)
        print(f"trained lenet5 for {args.epochs} epochs on {args.train_size} images in {time.perf_counter() - started:.0f} s "
              "(a checkpoint per epoch)")
        child = subprocess.run(
            [sys.executable, __file__, "--moves", str(args.moves), "--measure", runs_dir, name],
            capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        if child.returncode:
            print(child.stdout[-3000:], child.stderr[-3000:])
            return child.returncode
        results = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"kept epochs {results['epochs']}; {args.moves} moves of the slider per page, to a random other epoch")
    p95s = []
    for page in PAGES:
        timings = results[page]
        everything = timings["cold"] + timings["warm"]
        p95s.append(float(np.percentile(everything, 95)))
        print(f"{page:8s} all   {seconds(everything)}")
        print(f"{'':8s} cold  {seconds(timings['cold'])}   (first visit of an epoch: its checkpoint read from disk)")
        print(f"{'':8s} warm  {seconds(timings['warm'])}")
    print(f"{load_line()} at the end")
    print(f"tensorflow_imported={results['tensorflow_imported']}")
    print(f"scrub_p95_s={max(p95s):.3f}")
    return 1 if results["tensorflow_imported"] else 0


if __name__ == "__main__":
    sys.exit(main())
