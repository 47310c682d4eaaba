"""The Map page's draw in a real browser (issue 20: the page draws the 5,000-digit map in <= 1 s).

Run: `PYTHONPATH=. .venv/bin/python bench/map_page.py [--epochs 4] [--repeats 10]` (needs Chromium, as the
browser tests do; output committed as `bench/results/map_page.txt`, ~5-10 minutes on 2 loaded cores).

Trains a LeNet-5 run with a checkpoint per epoch in this process, which writes its map of 5,000 test digits and
its map through the epochs as a worker does; then a dashboard server on a free port (the tests'
`tests/live_server.py`, a server that never imports TensorFlow) and a headless Chromium at 1280x720. Timed, each
`--repeats` times or more, on the shipped model (its map ships in `pretrained/`) and on that run:

- open: from a click on *Map* in the sidebar (coming from Data, the map gone from the page) until it is drawn;
- scrub (the run only): from an arrow key on the focused epoch slider until the map of the next epoch is drawn,
  on the PCA view (the digits move) and on the t-SNE view (the places stay, the mistakes change);
- view: from a click on *PCA* or *t-SNE* until the other view is drawn.

"Drawn" is defined as: plotly's `plotly_afterplot` event has fired on the Map chart for a figure that is the one
expected, read from the map's files (the first point of the digit-0 trace at its place on that view and epoch,
the mistakes trace counting that epoch's mistakes, its first point where that epoch's first mistake is), and a
frame has passed (Playwright checks on each animation frame). `plotly_afterplot` fires once plotly has drawn
every trace: the SVG points are in the DOM, or the WebGL canvas is drawn.

Prints the definition, CPU and load, median and p95 of each kind, and last `map_page_draw_p95_s=<the worst p95>`.
Target: <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402

from live_server import chromium, click_nav, fresh_log, new_page, open_view, running_server, wait_idle  # noqa: E402
from plotly_watch import AFTERPLOT_HOOK  # noqa: E402
from shared_machine import cpu_model  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
if SHARED_MNIST.is_file():
    os.environ.setdefault("MNIST_PATH", str(SHARED_MNIST))
VIEWPORT = {"width": 1280, "height": 720}
MAP_DIGITS = 5000
TIMEOUT_MS = 120_000
SLIDER = ".st-key-map_scrubber [data-testid='stSlider'] input[type='range']"  # the thumb's range input: takes arrow keys
VIEW_RADIO = ".st-key-map_view_controls [data-testid='stRadio']"
MODEL_PICKER = ".st-key-map_controls [data-testid='stSelectbox']"
DEFINITION = ("drawn = plotly's plotly_afterplot has fired on the Map chart for the expected figure (the digit-0 "
              "trace's first point, the mistakes' count and the first mistake's place as the map's files give them for "
              "that view and epoch), checked on each animation frame after it")
DRAWN = """(expected) => {
    const close = (a, b) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        const traces = plot.__drawn || [];
        const zero = traces.find(trace => trace.name === '0');
        const mistakes = traces.find(trace => trace.name.startsWith('mistakes'));
        if (!zero || !mistakes || mistakes.x.length !== expected.mistakes) continue;
        const points = traces.filter(trace => /^[0-9]$/.test(trace.name)).reduce((n, trace) => n + trace.x.length, 0);
        if (points !== expected.points || !close(zero.x[0], expected.zero[0]) || !close(zero.y[0], expected.zero[1])) continue;
        if (expected.mistake && !(close(mistakes.x[0], expected.mistake[0]) && close(mistakes.y[0], expected.mistake[1]))) continue;
        return zero.type;
    }
    return false;
}"""
NO_MAP = "() => !document.querySelector('.js-plotly-plot')"


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def train(runs_dir: Path, epochs: int, train_size: int) -> str:
    """A LeNet-5 run with a checkpoint per epoch, its map of 5,000 digits and its map through the epochs written."""
    import core  # noqa: F401  (oneDNN on before TensorFlow is imported)
    from core.config.train_config import preset_config
    from core.runs.feature_files import EMBEDDING_DIGITS_ENV
    from core.runs.recorded_run import RecordedRun

    os.environ[EMBEDDING_DIGITS_ENV] = str(MAP_DIGITS)
    config = preset_config("lenet5", epochs=epochs, train_size=train_size, batch_size=64, validation="none", patience=0)
    run = RecordedRun(config, runs_dir=runs_dir)
    for event in run:
        pass
    if event.status != "completed" or not run.wait_for_feature_files(timeout=900) or run.feature_files.error:
        raise SystemExit(f"the run or its map did not complete: {event}")
    return event.name


class Expected:
    """What the Map chart must hold for a view and an epoch, from the map's files (the oracle, not the page's code)."""

    def __init__(self, folder: Path, prefix: str = ""):
        from core.embedding.embedding_map import EMBEDDING_FILE, EmbeddingMap
        from core.embedding.epoch_maps import EPOCH_MAPS_FILE, EpochMaps

        self.embedding = EmbeddingMap.load(folder / f"{prefix}{EMBEDDING_FILE}")
        epochs_file = folder / EPOCH_MAPS_FILE
        self.epoch_maps = EpochMaps.load(epochs_file) if epochs_file.is_file() else None

    def figure(self, view: str, epoch: int | None = None) -> dict:
        maps, embedding = self.epoch_maps, self.embedding
        places = embedding.views[view]
        predictions = embedding.y_pred
        if maps is not None and epoch is not None:
            predictions = maps.predictions_at(epoch)
            if view in maps.views:
                places = maps.view_at(view, epoch)
        wrong = embedding.y_true != predictions
        zero = places[embedding.y_true == 0][0]
        return {"points": len(places), "mistakes": int(wrong.sum()), "zero": [float(zero[0]), float(zero[1])],
                "mistake": [float(v) for v in places[wrong][0]] if wrong.any() else None}


def wait_drawn(page, expected: dict) -> str:
    """Wait until the Map chart is drawn with `expected` (see `DRAWN`); returns the plotly trace type drawn."""
    try:
        return page.wait_for_function(DRAWN, arg=expected, timeout=TIMEOUT_MS, polling="raf").json_value()
    except PlaywrightTimeoutError:
        shown = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => (plot.__drawn || [])"
                              ".map(trace => [trace.name, trace.x.length, trace.x[0], trace.y[0]]))")
        raise SystemExit(f"the map was not drawn as expected within {TIMEOUT_MS / 1000:.0f} s: expected {expected}, "
                         f"the page's charts last drew {shown} (at {page.url})") from None


def timed(page, action, expected: dict) -> tuple[float, str]:
    started = time.perf_counter()
    action()
    kind = wait_drawn(page, expected)
    seconds = time.perf_counter() - started
    wait_idle(page)
    return seconds, kind


def pick_view(page, title: str) -> None:
    page.locator(VIEW_RADIO).get_by_text(title, exact=False).first.click()


def pick_model(page, pattern: str) -> None:
    page.locator(MODEL_PICKER).click()
    page.get_by_role("option", name=re.compile(pattern)).click()


def summary(values: list[float]) -> str:
    values = np.asarray(values)
    return (f"n={len(values):3d}  median {np.median(values):.3f} s  p95 {np.percentile(values, 95):.3f} s  "
            f"max {values.max():.3f} s")


def measure(page, server, label: str, expected: Expected, query: str, repeats: int, record) -> None:
    """Time opening the Map view, switching its view and (for a run with maps through its epochs) scrubbing."""
    open_view(page, server, "map", query)
    method = expected.embedding.method
    maps = expected.epoch_maps
    anchor = None if maps is None else maps.anchor_epoch
    wait_drawn(page, expected.figure(method, anchor))  # the first view: the server's caches filled
    wait_idle(page)
    for _ in range(repeats):  # open: Data, then Map, timed
        click_nav(page, "Data")
        page.wait_for_function(NO_MAP, timeout=TIMEOUT_MS)
        wait_idle(page)
        record(f"open the Map view ({label}, t-SNE)", timed(page, lambda: click_nav(page, "Map"), expected.figure(method, anchor)))
    for _ in range(repeats):  # view: t-SNE -> PCA -> t-SNE
        record(f"switch t-SNE -> PCA ({label})", timed(page, lambda: pick_view(page, "PCA"), expected.figure("pca", anchor)))
        record(f"switch PCA -> t-SNE ({label})", timed(page, lambda: pick_view(page, "t-SNE"), expected.figure(method, anchor)))
    if maps is None:
        return
    epochs = maps.epochs.tolist()
    at, direction = epochs.index(anchor), -1
    for view, title in (("pca", "PCA"), (method, "t-SNE")):  # scrub: down to the first epoch, back up, and so on
        pick_view(page, title)
        wait_drawn(page, expected.figure(view, epochs[at]))
        wait_idle(page)
        for _ in range(repeats):
            if not 0 <= at + direction < len(epochs):
                direction = -direction
            at += direction
            page.locator(SLIDER).focus()
            key = "ArrowLeft" if direction < 0 else "ArrowRight"
            record(f"scrub one epoch ({label}, {title}: {'the points move' if view == 'pca' else 'the mistakes change'})",
                   timed(page, lambda: page.keyboard.press(key), expected.figure(view, epochs[at])))


def reuse(runs_dir: Path) -> str | None:
    """The name of a finished run with its maps already in `runs_dir` (`--runs-dir`), else None."""
    from core.embedding.epoch_maps import EPOCH_MAPS_FILE

    found = sorted(runs_dir.glob(f"*/{EPOCH_MAPS_FILE}")) if runs_dir.is_dir() else []
    return found[-1].parent.name if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--runs-dir", help="keep the trained run here, and reuse one with its maps found there")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {load_line()} at start")
    print(DEFINITION)
    timings: dict[str, list[float]] = {}
    kinds = set()

    def record(name: str, result: tuple[float, str]) -> None:
        timings.setdefault(name, []).append(result[0])
        kinds.add(result[1])

    with tempfile.TemporaryDirectory(prefix="map-page-") as folder:
        runs_dir = Path(args.runs_dir) if args.runs_dir else Path(folder) / "runs"
        started = time.perf_counter()
        name = reuse(runs_dir) or train(runs_dir, args.epochs, args.train_size)
        print(f"the run: {name}, lenet5, {args.epochs} epochs on {args.train_size} images, its maps written "
              f"({time.perf_counter() - started:.0f} s); {load_line()}")
        run = Expected(runs_dir / name)
        shipped = Expected(ROOT / "pretrained", "mnist_fast.")
        epochs = run.epoch_maps.epochs.tolist()
        # The shipped model on a server without runs (the Map page opens on a visitor's newest run otherwise).
        for label, expected, served, query in (("shipped model", shipped, Path(folder) / "no-runs", ""),
                                               ("the run", run, runs_dir, f"run={name}")):
            with running_server(served, fresh_log("map_page_bench")) as server, chromium() as browser:
                page = new_page(browser)
                page.context.add_init_script(AFTERPLOT_HOOK)
                page.set_viewport_size(VIEWPORT)
                measure(page, server, label, expected, query, args.repeats, record)
                page.context.close()
    print(f"plotly trace type drawn: {', '.join(sorted(kinds))}; window {VIEWPORT['width']}x{VIEWPORT['height']}; "
          f"{MAP_DIGITS:,} digits; kept epochs {epochs}")
    worst = 0.0
    for name, values in timings.items():
        print(f"  {name:<62} {summary(values)}")
        worst = max(worst, float(np.percentile(values, 95)))
    print(f"CPU: {cpu_model()}; {load_line()} at the end")
    print(f"map_page_draw_p95_s={worst:.3f} (target <= 1 s: {'met' if worst <= 1 else 'NOT met'} here)")


if __name__ == "__main__":
    main()
