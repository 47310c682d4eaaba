"""The dashboard with trainings in worker processes: the server's memory, Start → first progress,
and Start → the `fast` preset's 99% shown in Chromium, against `bench/time_to_99.py` in the same run.

What it does, on a real server (`streamlit run dashboard/app.py`) and Debian's Chromium:
1. three sessions open Data, Inspect and Draw (a digit drawn), a fourth trains the `fast` preset
   from the Train page, `--trainings` times, one after another, with seeds 0, 1, ...; the
   server process's own RSS and the RSS of the server plus its workers are polled every 0.1 s;
2. for each training, the time from the Start click to the first "Epoch 1 of 1: N%" progress
   text, to the first point of the loss curve drawn (its chart comes with two batch points), and
   to the ending's "Test accuracy" (the model scored and saved), on this script's clock (a poll every 50 ms)
   and on the browser's own (the click event to the first DOM change that shows it: `PAGE_MARKS`);
   then one `fast` training on 6,000 images (an epoch of a second or two), whose batch points in
   its first epoch are counted on the page's loss chart (target >= 20);
3. `bench/time_to_99.py --seeds <same> --skip-baselines --skip-cli` for the same seeds, in this
   same run: the ratio of the browser's Start → ending to the bench's time to 99%.

Usage:
    .venv/bin/python bench/server_footprint.py [--trainings 5] [--out bench/results/server_footprint.txt]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' real-server and Chromium helpers
sys.path.insert(0, str(ROOT / "bench"))

from live_server import LiveServer, chromium, fresh_log, new_page, open_view, process_tree_rss, wait_idle  # noqa: E402
from shared_machine import cpu_model, cpu_ticks, load_text, share_of_run, Transcript  # noqa: E402

PROGRESS = re.compile(r"^Epoch 1 of 1: (\d+)%")
ENDING = re.compile(r"Test accuracy ([\d.]+)%")
TIMEOUT_S = 240
# The loss chart's raw batch-level trace: how many points it holds (-1 while there is no chart).
BATCH_POINTS = """() => {
    const plot = document.querySelector(".st-key-train_loss_chart:not([data-stale='true']) .js-plotly-plot");
    if (!plot || !plot.data) return -1;
    const batches = plot.data.find(trace => trace.name === "train (batches)");
    return batches ? (batches.x || []).length : 0;
}"""


# Installed in the page just before the click: the browser's own clock stamps the Start click as it happens and
# the first frame whose DOM shows the first progress text and the first curve point, watched on every DOM change.
# The Python clock (around `click()` and a poll every 50 ms with two round trips to the browser) adds Playwright's
# actionability checks and the poll's own delay; both are printed.
PAGE_MARKS = r"""() => {
    const marks = window.__startMarks = {click: null, progress: null, chart: null, point: null};
    const progress = /^Epoch 1 of 1: \d+%/;
    document.addEventListener("click", event => {
        if (marks.click === null && event.target.closest(".st-key-train_start")) marks.click = performance.now();
    }, {capture: true});
    const check = () => {
        if (marks.click === null) return;
        const now = performance.now();
        if (marks.progress === null && [...document.querySelectorAll("[data-testid='stProgress']")]
                .some(element => progress.test(element.innerText.trim()))) marks.progress = now;
        if (marks.chart === null && document.querySelector(".st-key-train_loss_chart")) marks.chart = now;
        if (marks.point === null) {
            const plot = document.querySelector(".st-key-train_loss_chart:not([data-stale='true']) .js-plotly-plot");
            const batches = plot && plot.data && plot.data.find(trace => trace.name === "train (batches)");
            if (batches && (batches.x || []).length > 0) marks.point = now;
        }
        if (marks.progress !== null && marks.point !== null) observer.disconnect();
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""
READ_MARKS = """() => {
    const marks = window.__startMarks || {};
    const since = at => (marks.click === null || at === null || at === undefined) ? null : (at - marks.click) / 1000;
    return {progress: since(marks.progress), chart: since(marks.chart), point: since(marks.point)};
}"""


def own_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Peaks:
    """Poll the server's own RSS and its whole tree's every `interval` s, keeping both peaks."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval = pid, interval
        self.server = self.tree = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self._done.is_set():
            try:
                self.server = max(self.server, own_rss(self.pid))
                self.tree = max(self.tree, process_tree_rss(self.pid))
            except OSError:
                pass
            self._done.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(timeout=5)


def cpu_flags() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return " ".join(sorted(f for f in flags if f.startswith(("avx", "amx", "fma"))))
    return ""


def draw_digit(page) -> None:
    canvas = page.locator("div[data-testid='stBidiComponentIsolated'] canvas.upper-canvas").first
    canvas.wait_for(state="visible", timeout=TIMEOUT_S * 1000)
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(x, y + box["height"] * 0.06 * step, steps=2)
    page.mouse.up()


def train_once(page, server, seed: int, query: str = "model=fast") -> dict:
    open_view(page, server, "train", f"{query}&seed={seed}")
    start = page.locator(".st-key-train_start").get_by_role("button", name="Start training")
    start.wait_for(state="visible", timeout=TIMEOUT_S * 1000)
    wait_idle(page)
    page.evaluate(PAGE_MARKS)
    clicked = time.perf_counter()
    start.click()
    first_progress = first_point = ending = None
    accuracy = points = None
    while time.perf_counter() - clicked < TIMEOUT_S:
        texts = page.evaluate("""() => [...document.querySelectorAll(
            "[data-testid='stProgress'], [data-testid='stAlertContainer']")].map(e => e.innerText)""")
        now = time.perf_counter() - clicked
        if first_progress is None and any(PROGRESS.search(t.strip()) for t in texts):
            first_progress = now
        if first_point is None and page.evaluate(BATCH_POINTS) > 0:
            first_point = now
        found = [ENDING.search(t) for t in texts]
        found = [m for m in found if m]
        if found:
            ending, accuracy = now, float(found[0].group(1)) / 100
            points = page.evaluate(BATCH_POINTS)  # the ended run's chart: every point of its one epoch
            break
        time.sleep(0.05)
    in_page = page.evaluate(READ_MARKS)
    return {"seed": seed, "first_progress_s": first_progress, "first_point_s": first_point, "ending_s": ending,
            "test_accuracy": accuracy, "batch_points": points,
            "page_progress_s": in_page["progress"], "page_chart_s": in_page["chart"], "page_point_s": in_page["point"]}


def time_to_99(seeds: list[int]) -> dict[int, float]:
    command = [sys.executable, str(ROOT / "bench" / "time_to_99.py"), "--seeds", ",".join(map(str, seeds)),
               "--skip-baselines", "--skip-cli"]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    found = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"fast\s+seed (\d+): ([\d.]+) s", output)}
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    transcript = Transcript()
    say = transcript.say

    say(f"CPU: {cpu_model()} ({os.cpu_count()} cores; {cpu_flags()})")
    say(f"load average at start: {load_text()}")
    ticks = cpu_ticks()
    runs_dir = Path(tempfile.mkdtemp(prefix="footprint-")) / "runs"
    server = LiveServer(runs_dir, fresh_log("server_footprint")).start()
    results = []
    try:
        with chromium() as browser, Peaks(server.pid) as peaks:
            viewers = [new_page(browser) for _ in range(3)]
            for page, view in zip(viewers, ("", "inspect", "draw")):
                open_view(page, server, view)
                wait_idle(page)
            draw_digit(viewers[2])
            idle_server, idle_tree = own_rss(server.pid), process_tree_rss(server.pid)
            trainer = new_page(browser)
            for seed in range(args.trainings):
                results.append(train_once(trainer, server, seed))
            short = train_once(trainer, server, 0, "model=fast&train_size=6000")
        say(f"server alone, idle with 3 sessions open (Data, Inspect, Draw): {idle_server / 2**20:.0f} MiB; "
            f"server + workers: {idle_tree / 2**20:.0f} MiB")
        say(f"peak RSS while the trainings ran, the 3 sessions open: server alone {peaks.server / 2**20:.0f} MiB "
            f"(target <= 400), server + workers {peaks.tree / 2**20:.0f} MiB (target <= 1229)")
    finally:
        server.stop()
    say(f"host steal during the browser part: {share_of_run(ticks, cpu_ticks(), 'steal'):.0%}")
    say()
    bench = time_to_99([r["seed"] for r in results])
    say("Start->... in seconds: 'bench' is this script's clock (from before Playwright's click() to the poll that saw it,")
    say("the measure of earlier results); 'page' is the browser's own clock (the click event to the first DOM change showing it)")
    say("seed  first progress (bench / page)  first curve point (bench / page)  ending shown  test acc  time_to_99.py  ratio")
    ratios = []
    nan = float("nan")
    for r in results:
        reference = bench.get(r["seed"])
        ratio = r["ending_s"] / reference if r["ending_s"] and reference else None
        if ratio:
            ratios.append(ratio)
        say(f"{r['seed']:>4}  {r['first_progress_s'] or nan:>14.2f} / {r['page_progress_s'] or nan:>5.2f}"
            f"  {r['first_point_s'] or nan:>17.2f} / {r['page_point_s'] or nan:>5.2f}"
            f"  {r['ending_s'] or nan:>10.2f} s  {r['test_accuracy'] or nan:>8.4f}  {reference or nan:>11.2f} s  "
            f"{ratio or nan:>5.2f}")
    firsts = [r["first_progress_s"] for r in results if r["first_progress_s"]]
    point_lags = [r["first_point_s"] - r["first_progress_s"] for r in results[1:]
                  if r["first_point_s"] and r["first_progress_s"]]
    page_firsts = [r["page_progress_s"] for r in results[1:] if r["page_progress_s"]]
    page_lags = [r["page_point_s"] - r["page_progress_s"] for r in results[1:] if r["page_point_s"] and r["page_progress_s"]]
    say()
    say("seed 0 is the first training after the server started: its worker may still be importing TensorFlow or")
    say("tracing the presets; the target is for a warm worker, so it holds the later runs to it")
    say(f"load average at end: {load_text()}")
    if firsts:
        say(f"first run after start-up: Start->first progress {firsts[0]:.2f} s")
    if len(firsts) > 1:
        say(f"start_to_first_progress_warm_median_s={statistics.median(firsts[1:]):.2f} (target <= 1.0; bench clock; warm runs: "
            f"{', '.join(f'{v:.2f}' for v in firsts[1:])})")
    if page_firsts:
        say(f"start_to_first_progress_warm_median_page_clock_s={statistics.median(page_firsts):.2f} (warm runs: "
            f"{', '.join(f'{v:.2f}' for v in page_firsts)})")
    if point_lags:
        say(f"first_progress_to_first_curve_point_warm_median_s={statistics.median(point_lags):.2f} (target <= 1.0; "
            f"bench clock; warm runs: {', '.join(f'{v:.2f}' for v in point_lags)})")
    if page_lags:
        say(f"first_progress_to_first_curve_point_warm_median_page_clock_s={statistics.median(page_lags):.2f} (warm runs: "
            f"{', '.join(f'{v:.2f}' for v in page_lags)})")
    drawing = [r["page_point_s"] - r["page_chart_s"] for r in results[1:] if r["page_point_s"] and r["page_chart_s"]]
    if drawing:
        say(f"of which the chart's element in the page -> plotly has drawn its points, page clock, median "
            f"{statistics.median(drawing):.2f} s (warm runs: {', '.join(f'{v:.2f}' for v in drawing)})")
    if ratios:
        say(f"browser_over_time_to_99_median={statistics.median(ratios):.2f} (target <= 1.5)")
    say(f"fast_6000_first_epoch_batch_points={short['batch_points']} (target >= 20; on the page's loss chart, "
        f"Start->first curve point {short['first_point_s'] or float('nan'):.2f} s (page clock "
        f"{short['page_point_s'] or float('nan'):.2f} s), ending {short['ending_s'] or float('nan'):.2f} s)")
    if args.out:
        transcript.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
