"""Does the dashboard stay responsive while a run's report (calibration, then the robustness sweep) is computed?

On a real server (`streamlit run dashboard/app.py`) and Debian's Chromium, with a copy of one run
(its cached report removed, so the report is computed anew):

1. session B opens Draw and draws a stroke every 1.5 s for `--idle-seconds`, timing mouse-up to
   its new prediction shown, while a thread GETs `/_stcore/health` every 0.25 s: the idle figures;
2. session A opens the run's Report page, which starts the report process
   (`core.robustness.report_process`: niced, its own Python process); until the report is cached
   in the run folder, B goes on drawing and the health thread on asking: the figures during the
   report, and how long the report took from the page's opening;
3. A's page then draws its four charts.

Printed: strokes (median, slowest, unanswered within 10 s) and health latency (median, p95, max)
idle and during the report, the report's seconds, the CPU model and the load average.

Usage:
    .venv/bin/python bench/report_responsiveness.py --run NAME --runs-dir DIR [--idle-seconds 20]
        [--out bench/results/report_responsiveness.txt]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from core.calibration.run_calibration import CALIBRATION_FILE  # noqa: E402
from core.robustness.sweep import ROBUSTNESS_FILE, SAMPLES_FILE  # noqa: E402
from live_server import LiveServer, chromium, fresh_log, new_page, open_view, wait_idle  # noqa: E402
from rerun_storm import STROKE_EVERY_S, HealthProbe, percentile, stroke  # noqa: E402
from shared_machine import cpu_model, load_text, Transcript  # noqa: E402

REPORT_TIMEOUT_S = 900
CHART_DRAWN = """(key) => {
    const plot = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    return plot && plot.data && plot.data.some(trace => (trace.x || []).length > 0);
}"""
CHARTS = ("report_curves", "report_per_digit", "report_calibration", "report_robustness")


def summary(strokes: list[float | None], health: list[float]) -> str:
    answered = [seconds for seconds in strokes if seconds is not None]
    strokes_text = (f"{len(strokes)} strokes, median {statistics.median(answered):.2f} s, slowest {max(answered):.2f} s, "
                    f"{len(strokes) - len(answered)} unanswered within 10 s") if answered else f"{len(strokes)} strokes, none answered"
    return (f"{strokes_text}; health {len(health)} checks, median {statistics.median(health):.3f} s, "
            f"p95 {percentile(health, 0.95):.3f} s, max {max(health):.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished run with a NumPy model (e.g. a `fast` run)")
    parser.add_argument("--runs-dir", required=True, help="the folder holding it (it is copied, never changed)")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--out")
    args = parser.parse_args()
    transcript = Transcript()
    say = transcript.say

    say(f"cpu: {cpu_model()}, {os.cpu_count()} CPU(s); load average at start: {load_text()}")
    runs_dir = Path(tempfile.mkdtemp(prefix="report-responsiveness-")) / "runs"
    folder = runs_dir / args.run
    shutil.copytree(Path(args.runs_dir) / args.run, folder)
    for cached in (ROBUSTNESS_FILE, SAMPLES_FILE, CALIBRATION_FILE):
        (folder / cached).unlink(missing_ok=True)
    server = LiveServer(runs_dir, fresh_log("report_responsiveness")).start()
    try:
        with chromium() as browser, HealthProbe(server.url, interval=0.25) as health:
            drawer, reporter = new_page(browser), new_page(browser)
            open_view(drawer, server, "draw")
            drawer.locator("div[data-testid='stBidiComponentIsolated'] canvas.upper-canvas").first.wait_for(state="visible")
            wait_idle(drawer)
            stroke(drawer, 0)  # the model's first load, before anything is timed
            index, idle_strokes = 1, []
            idle_started = time.perf_counter()
            while time.perf_counter() - idle_started < args.idle_seconds:
                idle_strokes.append(stroke(drawer, index))
                index += 1
                time.sleep(STROKE_EVERY_S)
            idle_ended = time.perf_counter()
            say(f"load average before the report: {load_text()}")
            reporter.goto(f"{server.url}/report?run={args.run}", wait_until="domcontentloaded")
            opened = time.perf_counter()
            busy_strokes = []
            while not (folder / ROBUSTNESS_FILE).is_file() and time.perf_counter() - opened < REPORT_TIMEOUT_S:
                busy_strokes.append(stroke(drawer, index))
                index += 1
                time.sleep(STROKE_EVERY_S)
            computed = time.perf_counter()
            say(f"load average when the report was cached: {load_text()}")
            for key in CHARTS:
                reporter.wait_for_function(CHART_DRAWN, arg=key, timeout=120_000)
            drawn = time.perf_counter()
            samples = list(health.samples)
    finally:
        server.stop()
    idle_health = [latency for sent, latency in samples if idle_started <= sent <= idle_ended]
    busy_health = [latency for sent, latency in samples if opened <= sent <= computed]
    say(f"report of run {args.run} (calibration, then the sweep of 10,000 test digits): cached {computed - opened:.1f} s "
        f"after the Report page was opened, its charts drawn {drawn - opened:.1f} s after")
    say(f"Draw idle:              {summary(idle_strokes, idle_health)}")
    say(f"Draw during the report: {summary(busy_strokes, busy_health)}")
    say(f"load average at the end: {load_text()}")
    if args.out:
        transcript.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
