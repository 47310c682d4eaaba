"""The Map page's draw in a real browser (issue 20: <= 1 s), opening it and scrubbing its epochs.

Run: `PYTHONPATH=. .venv/bin/python bench/embedding_map_browser.py [--epochs 4] [--repeats 10]` (needs Chromium,
as the browser tests do; output committed as `bench/results/embedding_map_browser.txt`).

Trains a LeNet-5 run with a checkpoint per epoch in this process, which computes its map of 5,000 test digits and
its map through the epochs as a worker does (the stderr lines give their seconds), then starts a dashboard server
on a free port and a headless Chromium (the tests' `tests/live_server.py`). Two timings, each `--repeats` times:

- open: from a click on *Map* in the sidebar (coming from Data) to the moment the chart has drawn its 5,000
  points (SVG points counted in the page, polled each animation frame);
- scrub: from an arrow key on the epoch slider to the moment the drawn points are the new epoch's (the first
  digit trace's first point has moved; PCA view).

Prints CPU and load, p50/p95 of each, and, last, `map_draw_p95_s=<the worse of the two p95s>`. Target: <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from live_server import chromium, click_nav, fresh_log, new_page, open_view, running_server, wait_idle  # noqa: E402
from shared_machine import cpu_model  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
if SHARED_MNIST.is_file():
    os.environ.setdefault("MNIST_PATH", str(SHARED_MNIST))
SLIDER = "[data-testid='stSlider'] [role='slider']"
TIMEOUT_MS = 60_000
MAP_PLOT = """() => [...document.querySelectorAll('.js-plotly-plot')].find(
    plot => (plot._fullData || []).some(trace => String(trace.name).startsWith('mistakes')))"""
DRAWN = """(points) => {
    const plot = (""" + MAP_PLOT + """)();
    if (!plot) return null;
    const zero = plot._fullData.find(trace => trace.name === '0');
    const drawn = plot.querySelectorAll('.scatterlayer .point').length;
    return zero && drawn >= points ? [zero.x[0], zero.y[0]] : null;
}"""


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def train(runs_dir: Path, epochs: int, train_size: int) -> str:
    import core  # noqa: F401  (oneDNN on before TensorFlow is imported)
    from core.config.train_config import preset_config
    from core.runs.recorded_run import RecordedRun

    os.environ["MNIST_LAB_EMBEDDING_DIGITS"] = "5000"
    config = preset_config("lenet5", epochs=epochs, train_size=train_size, batch_size=64, validation="none", patience=0)
    run = RecordedRun(config, runs_dir=runs_dir)
    for event in run:
        pass
    run.wait_for_feature_files()  # the map and the map through the epochs, written on a thread of their own
    if event.status != "completed":
        raise SystemExit(f"the run did not complete: {event}")
    return event.name


def percentiles(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):.2f} s, p95 {np.percentile(values, 95):.2f} s, max {max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {load_line()}")
    with tempfile.TemporaryDirectory() as folder:
        runs_dir = Path(folder) / "runs"
        name = train(runs_dir, args.epochs, args.train_size)
        print(f"CPU: {cpu_model()}; {load_line()} (after training)")
        opened, scrubbed = [], []
        with running_server(runs_dir, fresh_log("map_bench")) as server, chromium() as browser:
            page = new_page(browser)
            open_view(page, server, "map", f"run={name}")
            page.wait_for_function(DRAWN, arg=5000, timeout=TIMEOUT_MS)  # the first view: caches filled
            wait_idle(page)
            page.get_by_text("PCA (the two directions").click()
            wait_idle(page)
            page.wait_for_function(DRAWN, arg=5000, timeout=TIMEOUT_MS)
            for _ in range(args.repeats):
                click_nav(page, "Data")
                page.wait_for_function(f"() => !({MAP_PLOT})()", timeout=TIMEOUT_MS)
                wait_idle(page)
                started = time.perf_counter()
                click_nav(page, "Map")
                page.wait_for_function(DRAWN, arg=5000, timeout=TIMEOUT_MS)
                opened.append(time.perf_counter() - started)
                wait_idle(page)
                for key in ("ArrowLeft", "ArrowRight"):
                    before = page.evaluate(DRAWN, 5000)
                    page.locator(SLIDER).first.focus()
                    started = time.perf_counter()
                    page.keyboard.press(key)
                    page.wait_for_function(f"() => {{ const now = ({DRAWN})(5000); "
                                           f"return now && (now[0] !== {before[0]} || now[1] !== {before[1]}); }}",
                                           timeout=TIMEOUT_MS)
                    scrubbed.append(time.perf_counter() - started)
                    wait_idle(page)
            page.context.close()
    print(f"map page opened, 5,000 points drawn ({len(opened)} times): {percentiles(opened)}")
    print(f"scrubbed one epoch, the 5,000 points redrawn ({len(scrubbed)} times): {percentiles(scrubbed)}")
    print(f"CPU: {cpu_model()}; {load_line()}")
    worst = max(np.percentile(opened, 95), np.percentile(scrubbed, 95))
    print(f"map_draw_p95_s={worst:.2f} (target <= 1 s: {'met' if worst <= 1 else 'NOT met'} here)")


if __name__ == "__main__":
    main()
